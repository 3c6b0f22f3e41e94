#!/usr/bin/env python3
"""tools/bench/smtp_load.py — refmail's SMTP load benchmark (issue 4).

Replays a workload directory written by ../shared/bench/gen_workload.py (manifest.jsonl +
msgs/) over N concurrent SMTP connections to 127.0.0.1 and reports accepted msg/s, MB/s,
reply latency and the SERVER's CPU ms per message, read from /proc/<pid>/stat of the
server process(es) before and after (utime+stime+cutime+cstime of the process and, with
--tree, of all its descendants, so Postfix's and Dovecot's short-lived children count
once they are reaped). The client's own CPU and the whole machine's busy CPU are
reported too, with the load average before and after, because the machine is shared.

Must never: talk to anything but loopback, or run unbounded (--timeout bounds the run).
Unlike ../shared/bench/smtp_load.py (smtplib, one round trip per command), this client
uses raw sockets and RFC 2920 PIPELINING when the server offers it (MAIL + RCPTs + DATA in
one write), so it spends less CPU and the server's share of the 2 cores is larger.
Messages are read, converted to CRLF and dot-stuffed (RFC 5321 4.5.2) before the clock.

Usage:
  smtp_load.py --workload DIR --port PORT [--concurrency 8] [--limit N]
               [--pid PID ...] [--tree] [--no-pipelining] [--wait-maillog FILE]
               [--timeout 900] [--json OUT] [--label TEXT]
--pid: server process(es) whose CPU is measured (refmaild; or the Postfix and Dovecot
master PIDs with --tree). --wait-maillog: after acceptance, wait until Postfix's log shows
a final status (sent/bounced) for every accepted recipient; rates and CPU then cover
acceptance + delivery ("delivered"), as the shared tool does for the peer.
"""
import argparse, json, os, re, resource, socket, statistics, sys, threading, time

HZ = os.sysconf("SC_CLK_TCK")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workload", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=2525)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--limit", type=int, default=0, help="send at most N messages (0 = all)")
    ap.add_argument("--pid", type=int, action="append", default=[], help="server PID to measure (repeatable)")
    ap.add_argument("--tree", action="store_true", help="also count every descendant of each --pid")
    ap.add_argument("--no-pipelining", action="store_true", help="one round trip per command")
    ap.add_argument("--wait-maillog", default="", help="Postfix maillog: wait for final delivery")
    ap.add_argument("--timeout", type=float, default=900, help="hard bound on the whole run, seconds")
    ap.add_argument("--json", default="")
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    if a.host not in ("127.0.0.1", "localhost", "::1"):
        ap.error("loopback only")
    return a


def load_jobs(workload, limit):
    man = [json.loads(l) for l in open(os.path.join(workload, "manifest.jsonl"))]
    if limit:
        man = man[:limit]
    jobs = []
    for m in man:
        raw = open(os.path.join(workload, m["file"]), "rb").read()
        raw = re.sub(rb"\r?\n|\r", b"\r\n", raw)
        if not raw.endswith(b"\r\n"):
            raw += b"\r\n"
        raw = re.sub(rb"(?m)^\.", b"..", raw)  # RFC 5321 4.5.2 transparency
        env = [b"MAIL FROM:<%s>\r\n" % m["mail_from"].encode()] + [b"RCPT TO:<%s>\r\n" % r.encode() for r in m["rcpt"]]
        jobs.append((env, raw + b".\r\n", len(raw), len(m["rcpt"])))
    return jobs


# ---- /proc accounting -------------------------------------------------------------------

def proc_stat(pid):
    """(starttime, own_ticks, reaped_children_ticks, ppid) or None if gone."""
    try:
        s = open("/proc/%d/stat" % pid).read()
    except OSError:
        return None
    f = s[s.rindex(")") + 2:].split()  # fields from 3 (state) on; comm may hold spaces
    ppid = int(f[1])
    utime, stime, cutime, cstime = int(f[11]), int(f[12]), int(f[13]), int(f[14])
    return int(f[19]), utime + stime, cutime + cstime, ppid


def tree_pids(roots, tree):
    pids = set(p for p in roots if os.path.exists("/proc/%d" % p))
    if not tree:
        return pids
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st:
                children.setdefault(st[3], []).append(int(d))
    todo = list(pids)
    while todo:
        p = todo.pop()
        for c in children.get(p, ()):
            if c not in pids:
                pids.add(c)
                todo.append(c)
    return pids


def cpu_snapshot(roots, tree):
    """{(pid, starttime): own + reaped-children ticks}. The difference of two snapshots'
    sums is the CPU the tree used in between: a process that exits is reaped by its
    parent (also in the tree), whose cutime/cstime then holds its whole lifetime, while
    its value at the first snapshot is subtracted."""
    snap = {}
    for p in tree_pids(roots, tree):
        st = proc_stat(p)
        if st:
            snap[(p, st[0])] = st[1] + st[2]
    return snap


def system_busy():
    v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return v[0] + v[1] + v[2] + v[5] + v[6]  # user nice system irq softirq


def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])


# ---- the client -------------------------------------------------------------------------

class Conn:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port), timeout=120)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def reply(self):
        """One (possibly multi-line) reply: (code, text)."""
        lines = []
        while True:
            i = self.buf.find(b"\r\n")
            while i < 0:
                chunk = self.s.recv(65536)
                if not chunk:
                    raise ConnectionError("server closed the connection")
                self.buf += chunk
                i = self.buf.find(b"\r\n")
            line, self.buf = self.buf[:i], self.buf[i + 2:]
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3]), b"\n".join(lines)

    def cmd(self, data):
        self.s.sendall(data)
        return self.reply()

    def close(self):
        try:
            self.s.sendall(b"QUIT\r\n")
            self.reply()
        except OSError:
            pass
        self.s.close()


def run(a, jobs):
    lock = threading.Lock()
    nxt = [0]
    lat, errors, ok_rcpts = [], [], [0]
    deadline = time.time() + a.timeout

    def session():
        c = Conn(a.host, a.port)
        code, _ = c.reply()
        if code != 220:
            raise RuntimeError("greeting %d" % code)
        code, text = c.cmd(b"EHLO loadgen.example.test\r\n")
        if code != 250:
            raise RuntimeError("EHLO %d" % code)
        pipelining = (not a.no_pipelining) and b"PIPELINING" in text.upper()
        return c, pipelining

    def worker():
        c, pipelining, dirty = None, False, False
        while time.time() < deadline:
            with lock:
                if nxt[0] >= len(jobs):
                    break
                i = nxt[0]
                nxt[0] += 1
            env, data, _, _ = jobs[i]
            t = time.perf_counter()
            try:
                if c is None:
                    c, pipelining = session()
                elif dirty:
                    if c.cmd(b"RSET\r\n")[0] != 250:
                        raise RuntimeError("RSET refused")
                dirty = True
                if pipelining:  # RFC 2920: MAIL, RCPTs and DATA in one write
                    c.s.sendall(b"".join(env) + b"DATA\r\n")
                    codes = [c.reply()[0] for _ in range(len(env) + 1)]
                else:
                    codes = []
                    for line in env:
                        codes.append(c.cmd(line)[0])
                        if codes[-1] >= 400 and len(codes) == 1:
                            break
                    if codes[0] == 250 and any(x in (250, 251) for x in codes[1:]):
                        codes.append(c.cmd(b"DATA\r\n")[0])
                rc = sum(1 for x in codes[1:len(env)] if x in (250, 251))
                if codes[0] != 250 or rc != len(env) - 1:
                    errors.append("%d: envelope replies %s" % (i, codes))
                if codes[-1] != 354:
                    raise RuntimeError("DATA %s" % codes[-1])
                code, text = c.cmd(data)
                if code != 250:
                    raise RuntimeError("end of data %d %r" % (code, text[:80]))
                dirty = False
                lat.append(time.perf_counter() - t)
                with lock:
                    ok_rcpts[0] += rc
            except Exception as e:  # record, reconnect, go on
                errors.append("%d: %r" % (i, e))
                if c is not None:
                    try:
                        c.s.close()
                    except OSError:
                        pass
                c = None
        if c is not None:
            c.close()

    ths = [threading.Thread(target=worker) for _ in range(a.concurrency)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    return lat, errors, ok_rcpts[0], time.time() > deadline


def wait_maillog(path, offset, target, deadline):
    """Counts Postfix final statuses after `offset` until `target` recipients are done."""
    sent = bounced = 0
    pos, tail = offset, b""
    while True:
        with open(path, "rb") as f:
            f.seek(pos)
            chunk = f.read()
        pos += len(chunk)
        lines = (tail + chunk).split(b"\n")
        tail = lines.pop()
        for ln in lines:
            if b"status=sent" in ln:
                sent += 1
            elif b"status=bounced" in ln:
                bounced += 1
        if sent + bounced >= target or time.time() > deadline:
            return sent, bounced
        time.sleep(0.05)


def main():
    a = parse_args()
    jobs = load_jobs(a.workload, a.limit)
    n_msgs = len(jobs)
    wire = sum(j[2] for j in jobs)
    n_rcpt = sum(j[3] for j in jobs)
    log_off = os.path.getsize(a.wait_maillog) if a.wait_maillog and os.path.exists(a.wait_maillog) else 0

    la0 = loadavg()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = cpu_snapshot(a.pid, a.tree)
    sys0 = system_busy()
    t0 = time.perf_counter()
    lat, errors, ok_rcpts, timed_out = run(a, jobs)
    t_accept = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    sent = bounced = None
    if a.wait_maillog:
        sent, bounced = wait_maillog(a.wait_maillog, log_off, ok_rcpts, time.time() + a.timeout)
    t_end = time.perf_counter() - t0
    cpu1 = cpu_snapshot(a.pid, a.tree)
    sys1 = system_busy()
    la1 = loadavg()

    ok = len(lat)
    # With --tree every process seen first counts on the start side (its parent reaps it);
    # without, a vanished PID (the server died) is dropped from both sides.
    server_ticks = sum(cpu1.values()) - sum(v for k, v in cpu0.items() if a.tree or k in cpu1)
    client_s = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    res = {
        "label": a.label, "workload": a.workload, "port": a.port, "concurrency": a.concurrency,
        "pipelining": not a.no_pipelining, "messages": n_msgs, "recipients": n_rcpt, "wire_bytes": wire,
        "accepted_messages": ok, "accepted_recipients": ok_rcpts, "errors": len(errors),
        "error_samples": errors[:5], "timed_out": timed_out,
        "accept_s": round(t_accept, 2),
        "accepted_msgs_per_s": round(ok / t_accept, 1),
        "accepted_MB_per_s": round(wire * ok / max(1, n_msgs) / t_accept / 1e6, 2),
        "latency_ms_p50": round(statistics.median(lat) * 1000, 1) if lat else None,
        "latency_ms_p99": round(sorted(lat)[int(0.99 * (len(lat) - 1))] * 1000, 1) if lat else None,
    }
    if a.wait_maillog:
        res.update({"deliver_s": round(t_end, 2), "delivered_msgs_per_s": round(ok / t_end, 1),
                    "delivered_MB_per_s": round(wire * ok / max(1, n_msgs) / t_end / 1e6, 2),
                    "mailbox_deliveries": sent, "bounced": bounced})
    res.update({
        "server_pids": sorted(a.pid), "server_processes_seen": len(set(cpu0) | set(cpu1)),
        "server_cpu_s": round(server_ticks / HZ, 2) if a.pid else None,
        "server_cpu_ms_per_msg": round(server_ticks * 1000 / HZ / max(1, ok), 2) if a.pid else None,
        "client_cpu_ms_per_msg": round(client_s * 1000 / max(1, ok), 2),
        "system_busy_cpu_ms_per_msg": round((sys1 - sys0) * 1000 / HZ / max(1, ok), 2),
        "system_cpu_util_pct": round(100 * (sys1 - sys0) / HZ / (t_end * os.cpu_count()), 1),
        "ncpu": os.cpu_count(), "loadavg_before": la0, "loadavg_after": la1,
    })
    print(json.dumps(res, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    return 1 if errors or timed_out else 0


if __name__ == "__main__":
    sys.exit(main())

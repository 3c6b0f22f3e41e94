#!/usr/bin/env python3
"""tools/bench/smtp_compare.py — one reproducible session of the issue 4 comparison:
refmail vs the Postfix -> Dovecot peer, on the same workload, back to back, 127.0.0.1 only.

For each load client (ours: tools/bench/smtp_load.py, pipelined raw sockets; and the
project-wide ../shared/bench/smtp_load.py, smtplib) it runs
  refmail  a fresh copy of a store that already holds the workload's users, refmaild on
           free ports, the load (--no-wait: the 250 is sent after the durable commit),
           `refmailctl stats --json`, SIGTERM, `du -sb`, refmail-bench-compact (Store::gc,
           which compacts every column family), `du -sb` again;
  peer     ../shared/bench/baseline.sh up MODE (wipes its run folder), the load waiting for
           Postfix's maillog to show every delivery, store_usage.py, baseline.sh stop.
and writes every figure with the load average to OUT/results.json.

Must never: stop a process it did not start (everything by PID), bind beyond loopback.
Usage: smtp_compare.py --workload DIR --build BUILD_DIR [--out DIR] [--concurrency 8]
                       [--limit N] [--peer maildir|mdbox|mdbox-sis|none]
                       [--clients ours,shared] [--order peer-first|refmail-first]
"""
import argparse, json, os, shutil, signal, socket, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import smtp_load  # noqa: E402  (its /proc accounting)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "e2e"))
from harness import free_ports  # noqa: E402  (one place: distinct free ports)

SHARED_BENCH = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "bench"))


def log(*a):
    print("[smtp_compare %s]" % time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def wait_port(port, proc=None, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            return False
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def du_sb(path):
    r = subprocess.run(["du", "-sb", path], capture_output=True, text=True, check=True)
    return int(r.stdout.split()[0])


class Refmaild:
    def __init__(self, build, data_dir, workdir, log_level, extra_toml=""):
        self.build, self.data, self.dir = build, data_dir, workdir
        self.ports = free_ports(("smtp", "submission", "smtps", "imap", "imaps", "http", "managesieve"))
        self.config = os.path.join(workdir, "refmail.toml")
        with open(self.config, "w") as f:
            f.write('data_dir = "%s"\nhostname = "mx.example.test"\nlocal_domains = ["example.test"]\n'
                    'log_level = "%s"\n%s\n[listen]\n' % (data_dir, log_level, extra_toml)
                    + "".join('%s = "127.0.0.1:%d"\n' % kv for kv in self.ports.items()))
        self.proc = None

    def start(self):
        self.log = open(os.path.join(self.dir, "refmaild.log"), "ab")
        self.proc = subprocess.Popen([os.path.join(self.build, "server", "refmaild"), "-c", self.config],
                                     stdout=subprocess.DEVNULL, stderr=self.log, cwd=self.dir)
        if not all(wait_port(p, self.proc) for p in self.ports.values()):
            raise RuntimeError("refmaild did not start; see %s/refmaild.log" % self.dir)
        return self.proc.pid

    def ctl(self, *args, stdin=None):
        r = subprocess.run([os.path.join(self.build, "tools", "refmailctl"), "-c", self.config, *args],
                           input=stdin, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError("refmailctl %s: %s%s" % (args, r.stdout, r.stderr))
        return r.stdout

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError("refmaild did not stop within 120 s")
        self.log.close()


def client_cmd(kind, a, port, out_json, label, pids=(), maillog=""):
    if kind == "ours":
        cmd = [sys.executable, os.path.join(HERE, "smtp_load.py"), "--workload", a.workload, "--port", str(port),
               "--concurrency", str(a.concurrency), "--json", out_json, "--label", label, "--timeout", "900"]
        for p in pids:
            cmd += ["--pid", str(p)]
        if maillog:
            cmd += ["--tree", "--wait-maillog", maillog]
    else:
        cmd = [sys.executable, os.path.join(SHARED_BENCH, "smtp_load.py"), "--workload", a.workload, "--port",
               str(port), "--concurrency", str(a.concurrency), "--json", out_json, "--label", label]
        cmd += ["--maillog", maillog] if maillog else ["--no-wait"]
    if a.limit:
        cmd += ["--limit", str(a.limit)]
    return cmd


def run_client(cmd, pids, tree):
    """Runs a load client; also measures the server's CPU from outside the client, so
    the shared client (which reports only whole-machine CPU) gets a server figure too."""
    log("run:", " ".join(cmd))
    c0 = smtp_load.cpu_snapshot(pids, tree)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    c1 = smtp_load.cpu_snapshot(pids, tree)
    if r.returncode not in (0, 1):
        raise RuntimeError("load client failed: %s" % r.stderr[-2000:])
    res = json.loads(open(cmd[cmd.index("--json") + 1]).read())
    ticks = sum(c1.values()) - sum(v for k, v in c0.items() if tree or k in c1)
    n = res.get("accepted_messages", res.get("messages", 1)) - (0 if "accepted_messages" in res else res.get("errors", 0))
    res["outside_server_cpu_s"] = round(ticks / smtp_load.HZ, 2)
    res["outside_server_cpu_ms_per_msg"] = round(ticks * 1000 / smtp_load.HZ / max(1, n), 2)
    return res


def prepare_template(a, tmp):
    """A stopped store holding example.test and every recipient of the workload."""
    data = os.path.join(tmp, "template-data")
    d = Refmaild(a.build, data, tmp, a.log_level)
    d.start()
    try:
        rcpts = sorted({r for l in open(os.path.join(a.workload, "manifest.jsonl")) for r in json.loads(l)["rcpt"]})
        log("creating %d users" % len(rcpts))
        existing = set(d.ctl("user", "list").split())
        for r in rcpts:
            if r not in existing:
                d.ctl("user", "add", r, "--password-stdin", stdin="bench-" + r + "\n")
    finally:
        d.stop()
    return data


def run_refmail(a, tmp, template, kind):
    work = tempfile.mkdtemp(prefix="run-%s-" % kind, dir=tmp)
    data = os.path.join(work, "data")
    shutil.copytree(template, data)
    d = Refmaild(a.build, data, work, a.log_level)
    pid = d.start()
    res = {"system": "refmail", "client": kind, "loadavg_start": loadavg()}
    try:
        res["du_sb_before_load"] = du_sb(data)
        res["load"] = run_client(client_cmd(kind, a, d.ports["smtp"], os.path.join(work, "load.json"),
                                            "refmail/" + kind, pids=[pid]), [pid], False)
        stats = json.loads(d.ctl("stats", "--json"))
        stats.pop("accounts", None)  # per-account detail: not needed for the report
        res["stats"] = stats
    finally:
        d.stop()
    res["du_sb_stopped"] = du_sb(data)
    t = time.perf_counter()
    r = subprocess.run([os.path.join(a.build, "tools", "refmail-bench-compact"), data], capture_output=True,
                       text=True, timeout=1200)
    res["compact_s"] = round(time.perf_counter() - t, 1)
    if r.returncode != 0:
        raise RuntimeError("refmail-bench-compact: " + r.stderr)
    res["compact"] = json.loads(r.stdout)
    res["du_sb_compacted"] = du_sb(data)
    res["du_sb_compacted_store_only"] = du_sb(os.path.join(data, "store"))
    res["loadavg_end"] = loadavg()
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return res


def run_peer(a, kind):
    env = dict(os.environ, RUN=a.peer_run, SMTP_PORT=str(a.peer_ports[0]), LMTP_PORT=str(a.peer_ports[1]),
               IMAP_PORT=str(a.peer_ports[2]))
    bl = os.path.join(SHARED_BENCH, "baseline.sh")
    subprocess.run([bl, "up", a.peer], env=env, check=True, capture_output=True, timeout=600)
    res = {"system": "postfix->dovecot " + a.peer, "client": kind, "loadavg_start": loadavg()}
    try:
        if not wait_port(a.peer_ports[0]):
            raise RuntimeError("postfix did not listen on %d" % a.peer_ports[0])
        pids = [int(open(p).read().strip()) for p in (os.path.join(a.peer_run, "postfix/spool/pid/master.pid"),
                                                     os.path.join(a.peer_run, "dovecot/base/master.pid"))]
        maillog = os.path.join(a.peer_run, "postfix", "maillog")
        res["load"] = run_client(client_cmd(kind, a, a.peer_ports[0], os.path.join(a.out, "peer-%s.json" % kind),
                                            "peer/" + kind, pids=pids, maillog=maillog), pids, True)
        r = subprocess.run([sys.executable, os.path.join(SHARED_BENCH, "store_usage.py"), a.peer_run],
                           capture_output=True, text=True, check=True, timeout=600)
        res["store_usage"] = json.loads(r.stdout)
    finally:
        subprocess.run([bl, "stop"], env=env, capture_output=True, timeout=120)
    res["loadavg_end"] = loadavg()
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--out", default="bench-results")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--peer", default="maildir")
    ap.add_argument("--peer-run", default="", help="the peer's run folder (default OUT/peer-run)")
    ap.add_argument("--peer-ports", default="2625,2624,2643", help="SMTP,LMTP,IMAP ports of the peer")
    ap.add_argument("--clients", default="ours,shared")
    ap.add_argument("--order", default="peer-first", choices=("peer-first", "refmail-first"))
    ap.add_argument("--log-level", default="info")
    ap.add_argument("--keep", action="store_true", help="keep refmail's data folders")
    a = ap.parse_args()
    a.workload, a.build, a.out = (os.path.abspath(x) for x in (a.workload, a.build, a.out))
    os.makedirs(a.out, exist_ok=True)
    a.peer_run = os.path.abspath(a.peer_run or os.path.join(a.out, "peer-run"))
    a.peer_ports = [int(x) for x in a.peer_ports.split(",")]
    tmp = tempfile.mkdtemp(prefix="refmail-bench-", dir=a.out)
    results = {"workload": a.workload, "concurrency": a.concurrency, "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
               "ncpu": os.cpu_count(), "runs": []}
    template = prepare_template(a, tmp)
    for kind in a.clients.split(","):
        steps = [lambda: run_refmail(a, tmp, template, kind)]
        if a.peer != "none":
            steps.append(lambda: run_peer(a, kind))
            if a.order == "peer-first":
                steps.reverse()
        pair = [s() for s in steps]
        results["runs"] += pair
        for r in pair:
            l = r["load"]
            log("%-28s %-6s %7.1f msg/s (%s) server %s CPU-ms/msg, errors %d, load %s" % (
                r["system"], kind, l.get("delivered_msgs_per_s", l.get("accepted_msgs_per_s")),
                "delivered" if "delivered_msgs_per_s" in l else "accepted", l.get("outside_server_cpu_ms_per_msg"),
                l.get("errors"), r["loadavg_start"]))
        json.dump(results, open(os.path.join(a.out, "results.json"), "w"), indent=1)
    if not a.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

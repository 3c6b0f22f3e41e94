#!/usr/bin/env python3
"""Relay throughput benchmark (issue 5): refmaild's relay worker draining its queue into
Postfix's smtp-sink on 127.0.0.1, and (--peer postfix) a private Postfix instance relaying
the SAME messages into the SAME smtp-sink, back to back in one session. Both send through
a smarthost/relayhost (the sink), TLS and AUTH off, so the figure is the relay itself:
queue, rebuild (join, for refmail), SMTP client. Bounded in count and time; loopback only;
every process started here is stopped by PID.

  REFMAIL_BUILD_DIR=build python3 tools/bench/relay_bench.py [--messages 500] [--size 100000]
  REFMAIL_BUILD_DIR=build python3 tools/bench/relay_bench.py --workload ../shared/bench/work/synth \\
      --messages 500 --peer postfix --json out.json

Messages: --workload DIR takes the first N files of DIR/msgs (the shared synthetic
workload, converted to CRLF); otherwise N generated messages with one random --size
attachment each. Envelope: alice@example.test -> bob@remote.test (one recipient).

refmail: phase 1 fills the queue (the smarthost port is closed, so every row is deferred);
phase 2 restarts refmaild pointing at smtp-sink, makes every row due (`refmailctl queue
retry-all`) and measures the time from the restart until the log shows N
`relay.delivered` lines.
Postfix: phase 1 fills its queue with `defer_transports = smtp` (every message deferred);
phase 2 clears defer_transports, reloads, `postqueue -f`, and measures the time until its
maillog shows N `status=sent` lines. Reported: msg/s, MB/s (message bytes as submitted),
the load average at the start of each drain, the machine's busy CPU ms per message over
the drain (/proc/stat, includes everything else running) and, for refmail, refmaild's own
CPU ms per message (/proc/<pid>/stat)."""
import argparse, base64, json, os, random, shutil, smtplib, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "e2e"))
from harness import Daemon, free_port  # noqa: E402

FROM, RCPT = "alice@example.test", "bob@remote.test"
# ../shared (beside the work tree): the peer's Postfix master.cf template
SHARED = os.environ.get("REFMAIL_SHARED_DIR",
                        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared"))


def message(i, size, rnd):
    payload = rnd.randbytes(size)
    b64 = base64.b64encode(payload).decode()
    body = "\r\n".join(b64[j:j + 76] for j in range(0, len(b64), 76))
    return (f"From: alice@example.test\r\nTo: bob@remote.test\r\nSubject: bench {i}\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n"
            f"message {i}\r\n--b1\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Disposition: attachment; filename=\"f{i}.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            f"{body}\r\n--b1--\r\n").encode()


def load_messages(a):
    if a.workload:
        d = os.path.join(a.workload, "msgs")
        names = sorted(n for n in os.listdir(d) if n.endswith(".eml"))[:a.messages]
        out = []
        for n in names:
            with open(os.path.join(d, n), "rb") as f:
                out.append(f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
        return out
    rnd = random.Random(1)
    return [message(i, a.size, rnd) for i in range(a.messages)]


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def busy_jiffies():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4]  # all but idle and iowait


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        v = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in v[11:15])  # utime stime cutime cstime


def send_all(port, msgs, login=None):
    s = smtplib.SMTP("127.0.0.1", port, timeout=120)
    if login:
        s.login(*login)
    for m in msgs:
        s.sendmail(FROM, [RCPT], m)
    s.quit()


def count_in(path, needle):
    try:
        with open(path, "rb") as f:
            return f.read().count(needle)
    except OSError:
        return 0


def wait_count(path, needle, n, deadline):
    """Polls a log file (costs the measured daemons nothing) until it holds n needles."""
    while time.time() < deadline:
        if count_in(path, needle) >= n:
            return True
        time.sleep(0.05)
    return False


def timed_wait(path, needle, had, n, t0, deadline):
    """Waits for n more needles; returns (seconds to the first, seconds to the last)."""
    wait_count(path, needle, had + 1, deadline)
    t_first = time.time() - t0
    ok = wait_count(path, needle, had + n, deadline)
    return t_first, time.time() - t0, ok


def result(label, n, done, total, t, load, busy0, busy1, extra=None):
    hz = os.sysconf("SC_CLK_TCK")
    r = {"label": label, "messages": n, "delivered": done, "message_bytes": total, "seconds": round(t, 3),
         "msgs_per_s": round(done / t, 1), "MB_per_s": round(total * done / n / t / 1e6, 1),
         "load_at_start": load, "machine_busy_cpu_ms_per_msg": round((busy1 - busy0) * 1000 / hz / max(done, 1), 2)}
    r.update(extra or {})
    # excluding the start-up (reload + first queue scan for Postfix, retry-all for refmail)
    r["msgs_per_s_after_first"] = round((done - 1) / max(t - r["seconds_to_first"], 1e-3), 1)
    print(json.dumps(r), flush=True)
    return r


# ---------------------------------------------------------------- refmail
def run_refmail(a, msgs, sink_port):
    closed = free_port()
    base = (f"[smtp]\nplain_auth_on_loopback = true\n[relay]\nretry_schedule = [3600]\nconcurrency = {a.concurrency}\n"
            f"per_domain_concurrency = {a.concurrency}\nsmarthost_tls = \"none\"\nsmarthost_auth = \"none\"\n")
    d = Daemon(extra_toml=base + f'smarthost = "127.0.0.1:{closed}"\n')
    try:
        d.add_user(FROM, "alice-pw")
        send_all(d.ports["submission"], msgs, login=(FROM, "alice-pw"))
        # every row has had its first (failed) attempt, so none is due at the restart
        if not wait_count(d.log_path, b" relay.deferred ", len(msgs), time.time() + a.timeout):
            raise RuntimeError("refmail did not defer every row: " + d.tail(10))
        d.stop()
        with open(d.config) as f:
            cfg = f.read().replace(f'smarthost = "127.0.0.1:{closed}"', f'smarthost = "127.0.0.1:{sink_port}"')
        with open(d.config, "w") as f:
            f.write(cfg)
        n = len(msgs)
        had = count_in(d.log_path, b" relay.delivered ")
        # The clock includes the restart (store open, start-up scan): a row whose first
        # attempt was still in flight at the stop is due at once, as Postfix's reload is
        # inside its clock below.
        load, busy0, t0 = loadavg(), busy_jiffies(), time.time()
        d.start()
        cpu0 = proc_cpu(d.proc.pid)
        perf = None
        if a.perf:  # a profile of refmaild over the drain (perf report -i FILE)
            perf = subprocess.Popen(["perf", "record", "-q", "-g", "-o", a.perf, "-p", str(d.proc.pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        d.ctl("queue", "retry-all")
        t_first, t, ok = timed_wait(d.log_path, b" relay.delivered ", had, n, t0, t0 + a.timeout)
        if perf:
            perf.send_signal(2)
            perf.wait(timeout=60)
        if not ok:
            print("refmail: timed out; log tail:\n" + d.tail(15), file=sys.stderr)
        busy1, cpu1 = busy_jiffies(), proc_cpu(d.proc.pid)
        done = count_in(d.log_path, b" relay.delivered ") - had
        hz = os.sysconf("SC_CLK_TCK")
        return result(f"refmail relay -> smtp-sink (smarthost, no TLS, concurrency {a.concurrency})", n, done,
                      sum(map(len, msgs)), t, load, busy0, busy1,
                      {"server_cpu_ms_per_msg": round((cpu1 - cpu0) * 1000 / hz / max(done, 1), 2),
                       "left_in_queue": d.stats()["queue_size"], "concurrency": a.concurrency,
                       "seconds_to_first": round(t_first, 3)})
    finally:
        d.cleanup()


# ---------------------------------------------------------------- Postfix
MAIN_CF = """compatibility_level = 3.6
queue_directory = {run}/spool
data_directory = {run}/lib
mail_owner = postfix
setgid_group = postdrop
maillog_file_prefixes = {run}
maillog_file = {run}/maillog
myhostname = mx.example.test
mydomain = example.test
myorigin = $mydomain
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relayhost = [127.0.0.1]:{sink}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_banner = $myhostname ESMTP
message_size_limit = 104857600
smtputf8_enable = no
biff = no
append_dot_mydomain = no
readme_directory = no
smtp_tls_security_level = none
defer_transports = smtp
# stock Postfix defaults for everything performance related
# (default_process_limit = 100, default_destination_concurrency_limit = 20)
"""


def run_postfix(a, msgs, sink_port):
    if not shutil.which("postfix") and not os.path.exists("/usr/sbin/postfix"):
        sys.exit("postfix is needed for --peer postfix")
    run = tempfile.mkdtemp(prefix="refmail-relay-peer-")
    os.chmod(run, 0o755)
    etc = os.path.join(run, "etc")
    os.makedirs(etc)
    os.makedirs(os.path.join(run, "spool"))
    os.makedirs(os.path.join(run, "lib"))
    shutil.chown(os.path.join(run, "lib"), "postfix", "postfix")
    port = free_port()
    with open(os.path.join(etc, "main.cf"), "w") as f:
        f.write(MAIN_CF.format(run=run, sink=sink_port))
    with open(os.path.join(SHARED, "bench", "conf", "postfix-master.cf.in")) as f:
        master = f.read().replace("@SMTP_PORT@", str(port))
    with open(os.path.join(etc, "master.cf"), "w") as f:
        f.write(master)
    maillog = os.path.join(run, "maillog")
    pidfile = os.path.join(run, "spool", "pid", "master.pid")

    def pf(*args, check=True):
        # postfix only reports to a tty or syslog: `script` gives it a tty
        return subprocess.run(["script", "-qec", " ".join(["postfix", "-c", etc, *args]), "/dev/null"],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, check=check, timeout=120)

    master_pid = None
    try:
        subprocess.run(["postfix", "-c", etc, "set-permissions"], capture_output=True)
        pf("check")
        pf("start")
        deadline = time.time() + 30
        while time.time() < deadline and not os.path.exists(pidfile):
            time.sleep(0.1)
        with open(pidfile) as f:
            master_pid = int(f.read().strip())
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                smtplib.SMTP("127.0.0.1", port, timeout=5).quit()
                break
            except OSError:
                time.sleep(0.2)
        n = len(msgs)
        send_all(port, msgs)
        # every message deferred by defer_transports before the clock starts
        if not wait_count(maillog, b"status=deferred", n, time.time() + a.timeout):
            raise RuntimeError("Postfix did not defer every message: %d" % count_in(maillog, b"status=deferred"))
        subprocess.run(["postconf", "-c", etc, "-e", "defer_transports="], check=True)
        load, busy0, t0 = loadavg(), busy_jiffies(), time.time()
        pf("reload")
        subprocess.run(["postqueue", "-c", etc, "-f"], check=True, capture_output=True)
        t_first, t, ok = timed_wait(maillog, b"status=sent", 0, n, t0, t0 + a.timeout)
        if not ok:
            print("postfix: timed out; maillog tail:\n" + open(maillog, errors="replace").read()[-3000:], file=sys.stderr)
        busy1 = busy_jiffies()
        done = count_in(maillog, b"status=sent")
        return result("Postfix (stock settings) relayhost -> smtp-sink", n, done, sum(map(len, msgs)), t, load,
                      busy0, busy1, {"concurrency": "postfix defaults (destination limit 20)",
                                     "seconds_to_first": round(t_first, 3)})
    finally:
        if master_pid:
            try:
                pf("stop", check=False)
            except subprocess.TimeoutExpired:
                pass
            for _ in range(100):
                try:
                    os.kill(master_pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                os.kill(master_pid, 9)
        shutil.rmtree(run, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=500)
    ap.add_argument("--size", type=int, default=100000, help="attachment bytes per generated message")
    ap.add_argument("--workload", help="a gen_workload.py folder: relay its first --messages messages")
    ap.add_argument("--concurrency", type=int, default=8, help="refmail's relay concurrency")
    ap.add_argument("--peer", choices=["none", "postfix"], default="none")
    ap.add_argument("--order", choices=["refmail-first", "peer-first"], default="refmail-first")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--perf", help="refmail only: `perf record -g` refmaild over the drain into this file")
    a = ap.parse_args()
    sink_bin = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if not os.path.exists(sink_bin):
        sys.exit("smtp-sink (Debian package postfix) is needed")
    msgs = load_messages(a)
    sink_port = free_port()
    args = [sink_bin]
    if os.geteuid() == 0:
        args += ["-u", "postfix"]
    sink = subprocess.Popen(args + ["-c", f"127.0.0.1:{sink_port}", "256"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    results = []
    try:
        time.sleep(0.5)
        runs = [run_refmail] + ([run_postfix] if a.peer == "postfix" else [])
        if a.order == "peer-first":
            runs.reverse()
        for r in runs:
            results.append(r(a, msgs, sink_port))
    finally:
        sink.terminate()
        sink.wait()
    if len(results) == 2:
        rm = next(r for r in results if r["label"].startswith("refmail"))
        pf = next(r for r in results if r["label"].startswith("Postfix"))
        print(json.dumps({"refmail_over_postfix_msgs_per_s": round(rm["msgs_per_s"] / pf["msgs_per_s"], 2)}))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()

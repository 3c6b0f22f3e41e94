#!/usr/bin/env python3
"""Relay throughput benchmark: refmaild's relay worker draining its queue into Postfix's
smtp-sink on 127.0.0.1 (configured as the smarthost, TLS and AUTH off, so the figure is
the relay itself: queue, join, SMTP client). Bounded in count and time.

  REFMAIL_BUILD_DIR=build python3 tools/bench/relay_bench.py [--messages 500] [--size 100000]

Phase 1 fills the queue (the smarthost port is closed, so every row is deferred);
phase 2 restarts refmaild pointing at smtp-sink, makes every row due and measures the
time until the queue is empty. Prints msg/s and MB/s (message bytes as stored)."""
import argparse, base64, json, os, random, shutil, smtplib, subprocess, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "e2e"))
from harness import Daemon, free_port  # noqa: E402


def message(i, size, rnd):
    payload = rnd.randbytes(size)
    b64 = base64.b64encode(payload).decode()
    body = "\r\n".join(b64[j:j + 76] for j in range(0, len(b64), 76))
    return (f"From: alice@example.test\r\nTo: bob@remote.test\r\nSubject: bench {i}\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n"
            f"message {i}\r\n--b1\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Disposition: attachment; filename=\"f{i}.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            f"{body}\r\n--b1--\r\n").encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=500)
    ap.add_argument("--size", type=int, default=100000, help="attachment bytes per message")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--json", help="write the result here")
    a = ap.parse_args()
    if not shutil.which("smtp-sink") and not os.path.exists("/usr/sbin/smtp-sink"):
        sys.exit("smtp-sink (Debian package postfix) is needed")
    sink_bin = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    closed, sink_port = free_port(), free_port()
    base = (f"[smtp]\nplain_auth_on_loopback = true\n[relay]\nretry_schedule = [3600]\nconcurrency = {a.concurrency}\n"
            f"per_domain_concurrency = {a.concurrency}\nsmarthost_tls = \"none\"\nsmarthost_auth = \"none\"\n")
    d = Daemon(extra_toml=base + f'smarthost = "127.0.0.1:{closed}"\n')
    sink = None
    try:
        d.add_user("alice@example.test", "alice-pw")
        rnd = random.Random(1)
        total = 0
        s = smtplib.SMTP("127.0.0.1", d.ports["submission"], timeout=60)
        s.login("alice@example.test", "alice-pw")
        for i in range(a.messages):
            m = message(i, a.size, rnd)
            total += len(m)
            s.sendmail("alice@example.test", ["bob@remote.test"], m)
        s.quit()
        d.stop()
        with open(d.config) as f:
            cfg = f.read().replace(f'smarthost = "127.0.0.1:{closed}"', f'smarthost = "127.0.0.1:{sink_port}"')
        with open(d.config, "w") as f:
            f.write(cfg)
        args = [sink_bin]
        if os.geteuid() == 0:
            args += ["-u", "postfix"]
        sink = subprocess.Popen(args + ["-c", f"127.0.0.1:{sink_port}", "256"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        d.start()
        t0 = time.time()
        d.ctl("queue", "retry-all")
        deadline = t0 + 600
        # Completion is read from the log ("relay.delivered" lines), so the polling
        # itself costs the daemon nothing.
        def delivered():
            with open(d.log_path, "rb") as f:
                return f.read().count(b" relay.delivered ")
        while time.time() < deadline and delivered() < a.messages:
            time.sleep(0.05)
        t = time.time() - t0
        left = d.stats()["queue_size"]
        res = {"label": "refmail relay -> smtp-sink (smarthost, no TLS)", "messages": a.messages,
               "message_bytes": total, "seconds": round(t, 3), "left_in_queue": left,
               "msgs_per_s": round((a.messages - left) / t, 1), "MB_per_s": round(total / t / 1e6, 1),
               "concurrency": a.concurrency}
        print(json.dumps(res))
        if a.json:
            with open(a.json, "w") as f:
                json.dump(res, f, indent=1)
    finally:
        d.cleanup()
        if sink:
            sink.terminate()
            sink.wait()


if __name__ == "__main__":
    main()

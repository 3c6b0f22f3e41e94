#!/usr/bin/env python3
"""IMAP against Dovecot in the same run (issue 16's benchmark). One fresh refmaild
(tools/bench/smtp_compare.py's Refmaild) and one private Dovecot (Debian's dovecot-imapd
and -lmtpd, maildir; tests/e2e/test_import.py's instance), both on 127.0.0.1, both stopped
by PID, both holding the same messages (refmail filled over SMTP, Dovecot over LMTP, 4
connections each, tools/bench/mailbox_scale.py's messages: small, 5% with a 20 KB
attachment), then on each, one client connection (imaplib; plaintext on loopback):

  select_fetch   SELECT INBOX + FETCH 1:* (UID FLAGS) over N messages (median of 5 after
                 a warm-up)
  first_access   9 messages with an 11 MB attachment each (random bytes) are delivered,
                 then, on a new connection, the first UID FETCH (BODYSTRUCTURE
                 BODY.PEEK[1]) of each one (a first access happens once per message: the
                 median of the 9; Dovecot's index cache files are removed first, so it
                 parses each message as on a first access after its cache was trimmed;
                 refmail reads its stored skeleton)
  body_mb_s      FETCH BODY.PEEK[] of that 11 MB message (median of 5), MB/s
  append_msg_s   APPEND of 1,000 small messages on one connection into a second mailbox
  idle_wake_ms   a client IDLEs on INBOX; one message is delivered (SMTP to refmail, LMTP
                 to Dovecot); the time from the delivery's acknowledgement to the client
                 reading "* n EXISTS" (median of 10)
  idle_rss_kb    RSS per connection with C connections logged in and IDLE on INBOX:
                 refmaild's RSS growth / C; Dovecot's: the RSS of its imap and imap-login
                 processes / C (one process per connection)

  python3 tools/bench/imap_bench.py BUILD_DIR [--messages N] [--idle C] [--only refmail|dovecot]
"""
import argparse, imaplib, os, re, shutil, smtplib, socket, statistics, subprocess, sys, tempfile, threading, time

HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "e2e"))
import mailbox_scale  # noqa: E402
import smtp_compare  # noqa: E402

USER, PW = mailbox_scale.USER, mailbox_scale.PW
BIG = 11 * 1024 * 1024


FIRST_ACCESSES = 9


def big_message(k=0):
    import base64
    data = base64.encodebytes(os.urandom(BIG)).decode().replace("\n", "\r\n")
    return (f"From: big@outside.test\r\nTo: {USER}\r\nSubject: big attachment\r\nMessage-ID: <big{k}@x>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n"
            "Content-Type: text/plain\r\n\r\nThe report is attached.\r\n--b\r\n"
            "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"big.bin\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n" + data + "--b--\r\n")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def dovecot_rss_kb(master_pid):
    """RSS of Dovecot's imap and imap-login processes (children of the master)."""
    total = 0
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                st = f.read()
            name = st[st.index("(") + 1:st.rindex(")")]
            ppid = int(st.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
        if ppid == master_pid and name in ("imap", "imap-login"):
            total += rss_kb(int(p))
    return total


def login(port, password):
    m = imaplib.IMAP4("127.0.0.1", port, timeout=600)
    m.login(USER, password)
    return m


def measure(name, imap_port, password, deliver, server_rss, idle_conns, n, forget_cache=None):
    out = {}
    m = login(imap_port, password)

    def select_fetch():
        typ, data = m.select("INBOX")
        assert typ == "OK", (typ, data)
        typ, data = m.fetch("1:*", "(UID FLAGS)")
        assert typ == "OK" and len(data) >= n, (typ, len(data))
    out["select_fetch_ms"] = mailbox_scale.timed(select_fetch, runs=5)[0]
    m.logout()

    # First access of big messages: each one's first FETCH, once.
    for k in range(FIRST_ACCESSES):
        deliver(big_message(k))
    if forget_cache:
        forget_cache()  # Dovecot: no cache of the messages' parse from their delivery
    m = login(imap_port, password)
    typ, data = m.select("INBOX")
    firsts = []
    for k in range(FIRST_ACCESSES):
        typ, data = m.uid("SEARCH", None, "HEADER", "Message-ID", f"big{k}@x")
        uid = data[0].split()[-1].decode()
        t = time.perf_counter()
        typ, data = m.uid("FETCH", uid, "(BODYSTRUCTURE BODY.PEEK[1])")
        firsts.append((time.perf_counter() - t) * 1000)
        assert typ == "OK" and b"The report is attached." in b"".join(
            x[1] if isinstance(x, tuple) else b"" for x in data), data
    out["first_access_ms"] = statistics.median(firsts)
    out["first_access_range_ms"] = (round(min(firsts), 2), round(max(firsts), 2))
    smtp_compare.log(name, "first accesses, ms:", [round(x, 2) for x in firsts])

    def body():
        typ, data = m.uid("FETCH", uid, "(BODY.PEEK[])")
        assert typ == "OK" and len(data[0][1]) > BIG
    ms = mailbox_scale.timed(body, runs=5)[0]
    out["body_mb_s"] = round((BIG * 4 / 3) / 1e6 / (ms / 1000), 1)

    # APPEND on one connection.
    m.create("Bench")
    msgs = [mailbox_scale.message(1_000_000 + i).encode() for i in range(1000)]
    # Each APPEND in one write with a LITERAL+ literal, then its tagged answer awaited
    # (imaplib's own APPEND writes the literal and its CRLF separately, and with Nagle on
    # the client that waits out the server's delayed ACK: 40 ms a message, whoever serves).
    t = time.perf_counter()
    for raw in msgs:
        tag = m._new_tag()
        m.send(tag + b" APPEND Bench {" + str(len(raw)).encode() + b"+}\r\n" + raw + b"\r\n")
        while True:
            line = m.readline()
            if line.startswith(tag + b" "):
                assert line.startswith(tag + b" OK"), line
                break
    out["append_msg_s"] = round(len(msgs) / (time.perf_counter() - t))
    m.logout()

    # IDLE wake latency.
    m = login(imap_port, password)
    m.select("INBOX")
    waits = []
    for k in range(10):
        tag = m._new_tag().decode()
        m.send(f"{tag} IDLE\r\n".encode())
        assert m.readline().startswith(b"+")
        t0 = [0.0]

        def send():
            time.sleep(0.3)
            deliver(mailbox_scale.message(2_000_000 + k))
            t0[0] = time.perf_counter()
        th = threading.Thread(target=send)
        th.start()
        while True:
            line = m.readline()
            if re.match(rb"\* \d+ EXISTS", line):
                waits.append((time.perf_counter() - t0[0]) * 1000 if t0[0] else 0.0)
                break
        th.join()
        m.send(b"DONE\r\n")
        while not m.readline().startswith(tag.encode()):
            pass
    out["idle_wake_ms"] = round(statistics.median(waits), 1)
    m.logout()

    # Many IDLE connections.
    before = server_rss()
    conns = []
    for _ in range(idle_conns):
        c = login(imap_port, password)
        c.select("INBOX")
        c.send(b"i IDLE\r\n")
        assert c.readline().startswith(b"+")
        conns.append(c)
    time.sleep(2)
    out["idle_rss_kb"] = round((server_rss() - before) / idle_conns, 1)
    for c in conns:
        c.send(b"DONE\r\n")
        c.shutdown()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--idle", type=int, default=500)
    ap.add_argument("--only", choices=("refmail", "dovecot"), help="measure one side (a re-run)")
    a = ap.parse_args()
    from test_import import Dovecot
    results = {}
    tmp = tempfile.mkdtemp(prefix="refmail-imapbench-")
    r, dc = None, None
    try:
        if a.only != "dovecot":
            r = smtp_compare.Refmaild(os.path.abspath(a.build), os.path.join(tmp, "data"), tmp, "warn")
            with open(r.config, "a") as f:
                f.write("[smtp]\nplain_auth_on_loopback = true\n[limits]\nconnections = 2000\n"
                        "imap_connections = 1500\nconnections_per_ip = 2000\n")
            pid = r.start()
            r.ctl("user", "add", USER, "--password-stdin", stdin=PW + "\n")
            smtp_compare.log("filling refmail with", a.messages)
            mailbox_scale.fill(r.ports["smtp"], 0, a.messages)
            mailbox_scale.settle(pid)

            def deliver_refmail(raw):
                with smtplib.SMTP("127.0.0.1", r.ports["smtp"], timeout=120) as s:
                    s.sendmail("a@outside.test", [USER], raw)
            results["refmail"] = measure("refmail", r.ports["imap"], PW, deliver_refmail, lambda: rss_kb(pid),
                                         a.idle, a.messages)
            smtp_compare.log("refmail", results["refmail"])
            r.stop()
        if a.only != "refmail":
            extra = ("default_process_limit = %d\ndefault_client_limit = %d\nmail_max_userip_connections = %d\n"
                     % (a.idle + 100, 2 * a.idle + 200, a.idle + 100))

            class BenchDovecot(Dovecot):
                """test_import's instance with room for the IDLE connections (its config is
                written in __init__, which starts it: the lines go in before that start)."""

                def start(self):
                    if not getattr(self, "_extended", False):
                        with open(self.conf, "a") as f:
                            f.write(extra)
                        self._extended = True
                    super().start()
            dc = BenchDovecot()
            smtp_compare.log("filling dovecot with", a.messages)
            mailbox_scale.fill(dc.lmtp_port, 0, a.messages, lmtp=True)
            mailbox_scale.settle(dc.pid())

            def deliver_dovecot(raw):
                with smtplib.LMTP("127.0.0.1", dc.lmtp_port) as s:
                    s.sendmail("a@outside.test", [USER], raw)

            def forget_cache():
                for root, _, files in os.walk(os.path.join(dc.dir, "mail")):
                    for f in files:
                        if f == "dovecot.index.cache":
                            os.unlink(os.path.join(root, f))
            results["dovecot"] = measure("dovecot", dc.imap_port, "pass", deliver_dovecot,
                                         lambda: dovecot_rss_kb(dc.pid()), a.idle, a.messages, forget_cache)
            smtp_compare.log("dovecot", results["dovecot"])
    finally:
        if r and r.proc and r.proc.poll() is None:
            r.stop()
        if dc:
            dc.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    keys = ["select_fetch_ms", "first_access_ms", "body_mb_s", "append_msg_s", "idle_wake_ms", "idle_rss_kb"]
    print(f"| {a.messages} messages, {a.idle} IDLE | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for name in ("refmail", "dovecot"):
        if name in results:
            print(f"| {name} | " + " | ".join(str(round(results[name][k], 2)) for k in keys) + " |")


if __name__ == "__main__":
    main()

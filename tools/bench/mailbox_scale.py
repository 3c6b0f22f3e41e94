#!/usr/bin/env python3
"""Reads as one account grows (the mailbox index issue): one fresh refmaild on 127.0.0.1
(tools/bench/smtp_compare.py's Refmaild, stopped by PID), one user filled over SMTP (4
connections; small messages, 5% with a 20 KB base64 attachment, replies every 7th
message so threads form) to each size in turn, and at each size, once refmaild is idle
(under 5% of a core over 1 s: the fill's flushes and compactions done), 15 runs after
one warm-up, the median and p90 of:
  - Email/get of one email (the properties a message list shows),
  - Email/query inMailbox INBOX newest 50 + Email/get of them (one request),
  - Mailbox/get of every mailbox,
  - Email/query {text: "word42"} (a word in 1% of the messages; the search index, once its
    worker reports no lag) with the ids of the newest 50,
  - Email/query {inMailboxOtherThan: [Trash]} newest 50 + Email/get ("all mail": the
    account's date order, each email filtered as it is walked),
and the SMTP delivery rate of the last 5,000 messages before each size (of all of them
below 5,000), into the account as it is then, with refmaild's CPU ms per message over
those messages. Also the data folder's bytes per message.

With --peer, the same fill and the nearest IMAP reads against Dovecot (maildir, or mdbox
with --mdbox; Debian's
dovecot-imapd/-lmtpd, the private instance tests/e2e/test_import.py starts, stopped by
PID), filled over LMTP on 4 connections, read on one logged-in connection with INBOX
selected (refmail's JMAP requests, too, go over one kept-alive HTTP connection, each
with its Basic authentication):
  - UID FETCH of the newest message (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY.PEEK[TEXT]<0.256>),
  - FETCH of the newest 50 (the same items),
  - LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN)),
  - UID SEARCH TEXT word42 (Dovecot without an FTS plugin, as Debian installs it: it reads
    the messages).

  python3 tools/bench/mailbox_scale.py BUILD_DIR [SIZE ...]     (default 1000 10000 100000)
  python3 tools/bench/mailbox_scale.py --peer [--mdbox] [SIZE ...]
"""
import base64, http.client, imaplib, json, os, shutil, smtplib, statistics, subprocess, sys, tempfile, threading, time, urllib.request
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import smtp_compare

USER, PW = "u@example.test", "pw-u-12345"
U = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"]
ATTACHMENT = 20_000
RATE_WINDOW = 5000


def message(i):
    refs = f"In-Reply-To: <m{i - 3}@x>\r\nReferences: <m{i - 3}@x>\r\n" if i % 7 == 6 else ""
    head = (f"From: Sender {i % 97} <s{i % 97}@outside.test>\r\nTo: {USER}\r\nSubject: note {i}\r\n"
            f"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <m{i}@x>\r\n{refs}")
    body = f"body of message {i}, word{i % 100}\r\n"
    if i % 20 != 10:
        return head + "\r\n" + body
    data = base64.encodebytes(os.urandom(ATTACHMENT)).decode().replace("\n", "\r\n")
    return (head + 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
            "Content-Type: text/plain\r\n\r\n" + body + "--b\r\nContent-Type: application/octet-stream\r\n"
            f'Content-Disposition: attachment; filename="f{i}.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
            + data + "--b--\r\n")


def fill(port, start, end, conns=4, lmtp=False):
    """Delivers messages start..end-1 over `conns` connections; returns msg/s."""
    errors = []

    def worker(k):
        try:
            with (smtplib.LMTP if lmtp else smtplib.SMTP)("127.0.0.1", port, timeout=120) as s:
                for i in range(start + k, end, conns):
                    s.sendmail("a@outside.test", [USER], message(i))
        except Exception as e:  # reported below: a failed fill is a failed benchmark
            errors.append(e)

    t = time.time()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(conns)]
    for th in threads: th.start()
    for th in threads: th.join()
    if errors:
        raise RuntimeError(f"fill failed: {errors[0]!r}")
    return (end - start) / (time.time() - t)


_conns = {}


def jmap(port, calls):
    """One JMAP request on a kept-alive connection (as a JMAP client keeps one)."""
    body = json.dumps({"using": U, "methodCalls": calls}).encode()
    headers = {"Authorization": "Basic " + base64.b64encode(f"{USER}:{PW}".encode()).decode(),
               "Content-Type": "application/json"}
    for attempt in (0, 1):
        c = _conns.get(port) or http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        _conns[port] = c
        try:
            c.request("POST", "/jmap/api", body=body, headers=headers)
            r = c.getresponse()
            data = r.read()
            break
        except (http.client.HTTPException, OSError):
            c.close()
            del _conns[port]  # the server closed an idle connection: one new one
            if attempt:
                raise
    assert r.status == 200, (r.status, data[:200])
    out = json.loads(data)["methodResponses"]
    for m in out:
        assert m[0] != "error", m
    return out


def process_cpu(pid):
    """CPU seconds (user + system, all threads) `pid` has used."""
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def settle(pid, limit_s=120):
    """Waits until `pid` used under 5% of a core over one second (flushes and
    compactions the fill started are done), at most limit_s; returns the seconds waited."""
    cpu = lambda: process_cpu(pid)
    t0 = time.time()
    while time.time() - t0 < limit_s:
        a = cpu()
        time.sleep(1)
        if cpu() - a < 0.05:
            break
    return round(time.time() - t0)


def timed(fn, runs=15):
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9) - 1]


def expected_hits(n):
    return len([i for i in range(n) if i % 100 == 42])


def wait_for_search_index(port, limit_s=600):
    """Until the search worker reports no lag on /metrics (so the index answers, not the
    fallback scan)."""
    t0 = time.time()
    while time.time() - t0 < limit_s:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=60) as r:
            lines = [l for l in r.read().decode().splitlines() if l.startswith("refmail_search_lag_states")]
        if lines and float(lines[0].split()[-1]) == 0:
            return
        time.sleep(1)
    raise RuntimeError("the search index did not catch up")


def fill_to(port, have, n, lmtp=False, pid=None):
    """Fills from `have` to `n` messages; returns the rate of the last RATE_WINDOW and the
    server's CPU ms per message over it (with `pid`: a figure that moves less than the rate
    when other processes load the machine)."""
    window = min(RATE_WINDOW, n - have)
    if n - window > have:
        fill(port, have, n - window, lmtp=lmtp)
    before = process_cpu(pid) if pid else None
    rate = fill(port, n - window, n, lmtp=lmtp)
    cpu_ms = round((process_cpu(pid) - before) * 1000 / window, 2) if pid else None
    return rate, cpu_ms


SEARCH_WORD = "word42"  # in the body of every message i with i % 100 == 42


def record(rows, n, get1, page, mbox, text, rate, fill_s, settled, folder, all_mail=None, cpu_ms=None):
    du = int(subprocess.run(["du", "-sb", folder], capture_output=True, text=True).stdout.split()[0])
    row = {"messages": n, "email_get_ms": get1, "query50_get_ms": page, "mailbox_get_ms": mbox,
           "text_search_ms": text, "all_mail_query50_get_ms": all_mail,
           "msg_per_s_last_window": round(rate, 1), "server_cpu_ms_per_msg": cpu_ms, "fill_s": round(fill_s), "settle_s": settled,
           "data_bytes_per_msg": du // n}
    rows.append(row)
    print(json.dumps(row), flush=True)


def print_table(rows, peer):
    what = ["UID FETCH one", "FETCH newest 50", "LIST-STATUS", "SEARCH TEXT"] if peer else \
        ["Email/get one", "Email/query 50 + get", "Mailbox/get", "Email/query text"]
    print(f"| messages | {what[0]} (median / p90 ms) | {what[1]} (ms) | {what[2]} (ms) | {what[3]} (ms) | "
          f"all mail 50 + get (ms) | {'LMTP' if peer else 'SMTP'} msg/s (last 5,000) | server CPU ms/msg | "
          f"data bytes/msg |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        f = lambda p: f"{p[0]:.1f} / {p[1]:.1f}" if p else "-"
        print(f"| {r['messages']:,} | {f(r['email_get_ms'])} | {f(r['query50_get_ms'])} | {f(r['mailbox_get_ms'])} | "
              f"{f(r['text_search_ms'])} | {f(r['all_mail_query50_get_ms'])} | {r['msg_per_s_last_window']} | "
              f"{r['server_cpu_ms_per_msg'] or '-'} | {r['data_bytes_per_msg']:,} |")


def peer(sizes, location):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "..", "tests", "e2e"))
    from test_import import Dovecot
    dc = Dovecot(mail_location=location)
    rows = []
    items = "(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY.PEEK[TEXT]<0.256>)"
    try:
        have = 0
        for n in sizes:
            t = time.time()
            rate, cpu_ms = fill_to(dc.lmtp_port, have, n, lmtp=True)
            have = n
            fill_s = time.time() - t
            settled = settle(dc.pid())
            im = imaplib.IMAP4("127.0.0.1", dc.imap_port)
            im.login(USER, "pass")
            typ, data = im.select("INBOX")
            assert typ == "OK" and int(data[0]) == n, (typ, data)
            typ, data = im.uid("SEARCH", None, "ALL")
            newest = data[0].split()[-1].decode()

            def ok(r):
                assert r[0] == "OK", r
                return r
            get1 = timed(lambda: ok(im.uid("FETCH", newest, items)))
            page = timed(lambda: ok(im.fetch(f"{n - 49}:{n}", items)))
            mbox = timed(lambda: ok(im._simple_command("LIST", '""', '"*"', "RETURN", "(STATUS (MESSAGES UNSEEN))")))

            def search():
                r = ok(im.uid("SEARCH", None, "TEXT", SEARCH_WORD))
                assert len(r[1][0].split()) == expected_hits(n), r
            text = timed(search)
            im.logout()
            record(rows, n, get1, page, mbox, text, rate, fill_s, settled, os.path.join(dc.dir, "mail"))
    finally:
        dc.stop()
        shutil.rmtree(dc.dir, ignore_errors=True)
    print_table(rows, peer=True)


def main():
    args = sys.argv[1:]
    if args and args[0] == "--peer":
        location = "maildir:~/Maildir"
        if len(args) > 1 and args[1] == "--mdbox":
            location, args = "mdbox:~/mdbox", args[1:]
        return peer([int(x) for x in args[1:]] or [1000, 10000, 100000], location)
    build = os.path.abspath(args[0])
    sizes = [int(x) for x in args[1:]] or [1000, 10000, 100000]
    work = tempfile.mkdtemp(prefix="mboxscale-")
    data = os.path.join(work, "data")
    d = smtp_compare.Refmaild(build, data, work, "warn")
    d.start()
    rows = []
    try:
        d.ctl("user", "add", USER, "--password-stdin", stdin=PW + "\n")
        req = urllib.request.Request(f"http://127.0.0.1:{d.ports['http']}/.well-known/jmap")
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{USER}:{PW}".encode()).decode())
        with urllib.request.urlopen(req, timeout=60) as r:
            acct = next(iter(json.loads(r.read())["accounts"]))
        boxes = jmap(d.ports["http"], [["Mailbox/get", {"accountId": acct}, "m"]])[0][1]["list"]
        inbox = next(b["id"] for b in boxes if b["role"] == "inbox")
        trash = next(b["id"] for b in boxes if b["role"] == "trash")
        have = 0
        for n in sizes:
            t = time.time()
            rate, cpu_ms = fill_to(d.ports["smtp"], have, n, pid=d.proc.pid)
            have = n
            fill_s = time.time() - t
            settled = settle(d.proc.pid)
            port = d.ports["http"]
            newest = jmap(port, [["Email/query", {"accountId": acct, "filter": {"inMailbox": inbox}, "limit": 1,
                                                  "calculateTotal": True}, "q"]])
            assert newest[0][1]["total"] == n, newest
            eid = newest[0][1]["ids"][0]
            props = ["subject", "from", "mailboxIds", "keywords", "receivedAt", "preview", "threadId", "size"]
            get1 = timed(lambda: jmap(port, [["Email/get", {"accountId": acct, "ids": [eid], "properties": props}, "g"]]))

            def query_page():
                r = jmap(port, [["Email/query", {"accountId": acct, "filter": {"inMailbox": inbox},
                                                 "sort": [{"property": "receivedAt", "isAscending": False}],
                                                 "limit": 50}, "q"],
                                ["Email/get", {"accountId": acct, "properties": props,
                                               "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"}}, "g"]])
                assert len(r[1][1]["list"]) == 50, r
            page = timed(query_page)

            def mailboxes():
                r = jmap(port, [["Mailbox/get", {"accountId": acct}, "m"]])
                assert any(b["totalEmails"] == n for b in r[0][1]["list"]), r
            mbox = timed(mailboxes)
            wait_for_search_index(port)

            def text_query():
                r = jmap(port, [["Email/query", {"accountId": acct, "filter": {"text": SEARCH_WORD}, "limit": 50,
                                                 "calculateTotal": True}, "q"]])
                assert r[0][1]["total"] == expected_hits(n), r
            text = timed(text_query)

            def all_mail_page():
                r = jmap(port, [["Email/query", {"accountId": acct, "filter": {"inMailboxOtherThan": [trash]},
                                                 "limit": 50}, "q"],
                                ["Email/get", {"accountId": acct, "properties": props,
                                               "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"}}, "g"]])
                assert len(r[1][1]["list"]) == 50 and r[0][1]["ids"] == page_ids, r
            page_ids = jmap(port, [["Email/query", {"accountId": acct, "filter": {"inMailbox": inbox},
                                                    "limit": 50}, "q"]])[0][1]["ids"]
            all_mail = timed(all_mail_page)
            record(rows, n, get1, page, mbox, text, rate, fill_s, settled, data, all_mail, cpu_ms)
    finally:
        d.stop()
        shutil.rmtree(work, ignore_errors=True)
    print_table(rows, peer=False)


if __name__ == "__main__":
    main()

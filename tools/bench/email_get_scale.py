#!/usr/bin/env python3
"""Email/get of one email as the account grows (mailbox index issue, first slice): for each
build, a fresh refmaild on 127.0.0.1 (tools/bench/smtp_compare.py's Refmaild, stopped by
PID), one user filled over SMTP with N small messages on one connection, then Email/get
of one email (the properties a list shows) 15 times after one warm-up: the median.

  python3 tools/bench/email_get_scale.py N BUILD_DIR [BUILD_DIR ...]
"""
import json, os, smtplib, statistics, sys, tempfile, time, base64, urllib.request, shutil
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import smtp_compare
N = int(sys.argv[1])
def jmap(port, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/jmap/api", data=json.dumps(body).encode(), method="POST")
    req.add_header("Authorization", "Basic " + base64.b64encode(b"u@example.test:pw-u-12345").decode())
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=60) as r: return json.loads(r.read())
U = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"]
for build in sys.argv[2:]:
    work = tempfile.mkdtemp(prefix="getb-")
    d = smtp_compare.Refmaild(build, os.path.join(work, "data"), work, "warn")
    d.start()
    try:
        d.ctl("user", "add", "u@example.test", "--password-stdin", stdin="pw-u-12345\n")
        t = time.time()
        with smtplib.SMTP("127.0.0.1", d.ports["smtp"], timeout=120) as s:
            for i in range(N):
                s.sendmail("a@outside.test", ["u@example.test"],
                           f"From: a@outside.test\r\nTo: u@example.test\r\nSubject: m{i}\r\nMessage-ID: <m{i}@x>\r\n\r\nbody {i}\r\n")
        fill = time.time() - t
        req = urllib.request.Request(f"http://127.0.0.1:{d.ports['http']}/.well-known/jmap")
        req.add_header("Authorization", "Basic " + base64.b64encode(b"u@example.test:pw-u-12345").decode())
        with urllib.request.urlopen(req, timeout=60) as r: acct = next(iter(json.loads(r.read())["accounts"]))
        q = jmap(d.ports["http"], {"using": U, "methodCalls": [["Email/query", {"accountId": acct, "limit": 5}, "q"]]})
        eid = q["methodResponses"][0][1]["ids"][0]
        times = []
        for _ in range(16):
            t = time.perf_counter()
            r = jmap(d.ports["http"], {"using": U, "methodCalls": [["Email/get", {"accountId": acct, "ids": [eid],
                     "properties": ["subject", "from", "mailboxIds", "keywords", "receivedAt", "preview"]}, "g"]]})
            times.append((time.perf_counter() - t) * 1000)
            assert r["methodResponses"][0][1]["list"], r
        print(f"{build}: N={N} fill {fill:.0f}s Email/get one email median {statistics.median(times[1:]):.1f} ms", flush=True)
    finally:
        d.stop(); shutil.rmtree(work, ignore_errors=True)

#!/usr/bin/env python3
"""tests/unit/trust/test_arc_dkimpy.py — ARC chain validation (trust/arc.hpp) against dkimpy
(Debian python3-dkim, an independent implementation): dkimpy seals a message at one, two and
three hops (a mailing list, then forwarders), refmail_dkim_tool arc-verify must pass what
dkimpy's arc_verify passes and fail what it fails: a changed body, a changed earlier
ARC-Authentication-Results, a removed set, a wrong key; no ARC at all is "none".

Usage: test_arc_dkimpy.py PATH/TO/refmail_dkim_tool   (ctest passes it)
"""
import os
import subprocess
import sys
import tempfile

try:
    import dkim  # noqa: F401
except ImportError:
    for p in ("/usr/lib/python3/dist-packages",):
        if os.path.isdir(os.path.join(p, "dkim")) and p not in sys.path:
            sys.path.append(p)
import dkim  # noqa: E402

TOOL = sys.argv[1]
FAILURES = []
CHECKS = 0

MESSAGE = (b"From: Alice <alice@example.com>\r\nTo: list@lists.test\r\nSubject: ARC test\r\n"
           b"Date: Thu, 09 Oct 2025 08:53:20 +0000\r\nMessage-ID: <arc1@example.com>\r\n\r\n"
           b"Hello list,\r\n\r\nthis goes through two forwarders.\r\n")


def check(cond, what):
    global CHECKS
    CHECKS += 1
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what)


def main():
    work = tempfile.mkdtemp(prefix="refmail-arc-")
    records, keys = {}, {}
    for domain in ("lists.test", "fwd.test", "relay.test"):
        pem = os.path.join(work, domain + ".pem")
        rec = subprocess.run([TOOL, "keygen", "--algo", "rsa", "--out", pem], check=True,
                             capture_output=True).stdout.decode().strip()
        records["arc._domainkey." + domain] = rec
        with open(pem, "rb") as f:
            keys[domain] = f.read()
    keys_file = os.path.join(work, "keys.txt")
    with open(keys_file, "w") as f:
        for name, value in records.items():
            f.write(name + " " + value + "\n")

    def dnsfunc(name, timeout=5):
        return records.get(name.decode().rstrip("."), "").encode() or None

    def seal(msg, domain, arc_result):
        # A hop: its own Authentication-Results (with the arc= it found), then dkimpy's set.
        ar = b"Authentication-Results: " + domain.encode() + b"; spf=pass smtp.mailfrom=alice@example.com"
        if arc_result:
            ar += b"; arc=" + arc_result
        msg = ar + b"\r\n" + msg
        sets = dkim.arc_sign(msg, b"arc", domain.encode(), keys[domain], domain.encode(),
                             include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
        check(len(sets) == 3, "dkimpy made one set at " + domain)
        return b"".join(sets) + msg

    def refmail(msg):
        p = subprocess.run([TOOL, "arc-verify", "--keys", keys_file], input=msg, capture_output=True)
        return p.returncode == 0, p.stdout.decode().strip()

    def dkimpy(msg):
        cv, _, reason = dkim.arc_verify(msg, dnsfunc=dnsfunc)
        return cv, reason

    ok, out = refmail(MESSAGE)
    check(not ok and out == "arc=none", "no ARC: none (%s)" % out)

    hop1 = seal(MESSAGE, "lists.test", None)
    hop2 = seal(hop1, "fwd.test", b"pass")
    hop3 = seal(hop2, "relay.test", b"pass")
    for n, msg in ((1, hop1), (2, hop2), (3, hop3)):
        cv, why = dkimpy(msg)
        check(cv == b"pass", "dkimpy passes its own %d-hop chain (%s %s)" % (n, cv, why))
        ok, out = refmail(msg)
        check(ok and out.startswith("arc=pass (i=%d " % n), "refmail passes the %d-hop chain: %s" % (n, out))

    bad = {
        "body changed": hop2.replace(b"two forwarders", b"two forwarders!"),
        "earlier AAR changed": hop2.replace(b"ARC-Authentication-Results: i=1; lists.test; spf=pass",
                                            b"ARC-Authentication-Results: i=1; lists.test; spf=fail"),
    }
    # A set taken out of the middle of a 3-hop chain (dropping the newest would leave a
    # valid shorter chain).
    lines = hop3.split(b"\r\n")
    fields, cur = [], None
    head_end = lines.index(b"")
    for l in lines[:head_end]:
        if l[:1] in (b" ", b"\t"):
            cur += b"\r\n" + l
        else:
            if cur is not None:
                fields.append(cur)
            cur = l
    fields.append(cur)
    body = b"\r\n".join(lines[head_end:])
    no_i2 = [f for f in fields if not (f.lower().startswith((b"arc-seal:", b"arc-message-signature:",
                                                            b"arc-authentication-results:")) and
                                         (b"i=2;" in f.replace(b" ", b"")))]
    check(len(no_i2) == len(fields) - 3, "the middle set was found")
    bad["middle set removed"] = b"\r\n".join(no_i2) + b"\r\n" + body
    for what, msg in bad.items():
        cv, why = dkimpy(msg)
        check(cv == b"fail", "dkimpy fails: %s (%s)" % (what, cv))
        ok, out = refmail(msg)
        check(not ok and out.startswith("arc=fail"), "refmail fails: %s: %s" % (what, out))

    # A key that does not match (the list's record replaced by another key's).
    with open(keys_file, "w") as f:
        for name, value in records.items():
            if name == "arc._domainkey.lists.test":
                value = records["arc._domainkey.fwd.test"]
            f.write(name + " " + value + "\n")
    ok, out = refmail(hop2)
    check(not ok and "ARC-Seal 1" in out, "refmail fails with a wrong key for the first seal: " + out)

    print("%d checks, %d failures" % (CHECKS, len(FAILURES)))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())

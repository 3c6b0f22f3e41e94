#!/usr/bin/env python3
"""Cross-implementation DKIM test: refmail_trust (through refmail_dkim_tool) against
dkimpy (Debian python3-dkim). Key records are served from a dict through dkimpy's
dnsfunc and a key file for the tool: no DNS server.

  (a) refmail signs (RSA, Ed25519; relaxed and simple; dual) -> dkimpy verifies
  (b) dkimpy signs (RSA, Ed25519; simple/simple, relaxed/relaxed; with and without l=)
      -> refmail verifies
  (c) messages of ../shared/corpus (attachments included) both ways
  plus negative checks: a tampered message fails on both sides.

usage: test_dkim_dkimpy.py PATH/TO/refmail_dkim_tool PATH/TO/shared/corpus
A missing prerequisite (dkimpy, PyNaCl, the corpus) fails the test; nothing is skipped.
"""
import base64
import os
import subprocess
import sys
import tempfile
import time

try:
    import dkim  # noqa: F401
except ImportError:
    for p in ("/usr/lib/python3/dist-packages",):
        if os.path.isdir(os.path.join(p, "dkim")) and p not in sys.path:
            sys.path.append(p)
import dkim  # noqa: E402
import nacl.signing  # noqa: E402  (dkimpy's Ed25519 backend)

TOOL = sys.argv[1]
CORPUS = sys.argv[2]
DOMAIN = "example.com"
FAILURES = []
CHECKS = 0

# Ten corpus messages: plain, multipart, base64 and QP attachments, nested messages.
CORPUS_FILES = [
    "cpython_test_email/msg_01.txt",
    "cpython_test_email/msg_02.txt",
    "cpython_test_email/msg_07.txt",
    "cpython_test_email/msg_10.txt",
    "cpython_test_email/msg_13.txt",
    "cpython_test_email/msg_15.txt",
    "cpython_test_email/msg_22.txt",
    "cpython_test_email/msg_26.txt",
    "cpython_test_email/msg_43.txt",
    "cpython_test_email/msg_16.txt",
    "cpython_test_email/msg_45.txt",
]

MESSAGE = (
    b"From: Joe SixPack <joe@example.com>\r\n"
    b"To: Suzie Q <suzie@example.net>\r\n"
    b"Subject: Is dinner ready?\r\n"
    b"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    b"Message-ID: <20030712040037.46341.5F8J@example.com>\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"Hi.\r\n"
    b"\r\n"
    b"We lost the game.   Are you hungry yet?  \r\n"
    b"\r\n"
    b"Joe.\r\n"
    b"\r\n"
    b"\r\n"
)


def check(cond, what):
    global CHECKS
    CHECKS += 1
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what)


def main():
    work = tempfile.mkdtemp(prefix="refmail-dkim-")
    # Keys: RSA made by refmail's keygen (PKCS#8 PEM, read by both sides); Ed25519 as a
    # raw seed (dkimpy's format; the tool reads it too).
    rsa_pem = os.path.join(work, "rsa.pem")
    rsa_record = subprocess.run([TOOL, "keygen", "--algo", "rsa", "--out", rsa_pem],
                                check=True, capture_output=True).stdout.decode().strip()
    ed_pem = os.path.join(work, "ed.pem")
    ed_record_tool = subprocess.run([TOOL, "keygen", "--algo", "ed25519", "--out", ed_pem],
                                    check=True, capture_output=True).stdout.decode().strip()
    seed = os.urandom(32)
    ed_seed = os.path.join(work, "ed.seed")
    with open(ed_seed, "wb") as f:
        f.write(base64.b64encode(seed))
    ed_pub = nacl.signing.SigningKey(seed).verify_key.encode()
    ed_record = "v=DKIM1; k=ed25519; p=" + base64.b64encode(ed_pub).decode()
    records = {
        "rsa._domainkey." + DOMAIN: rsa_record,
        "ed._domainkey." + DOMAIN: ed_record,
        "edpem._domainkey." + DOMAIN: ed_record_tool,
    }
    keys_file = os.path.join(work, "keys.txt")
    with open(keys_file, "w") as f:
        for name, value in records.items():
            f.write(name + " " + value + "\n")

    def dnsfunc(name, timeout=5):
        return records.get(name.decode().rstrip("."), "").encode() or None

    def refmail_sign(msg, selectors_keys, canon):
        args = [TOOL, "sign", "--domain", DOMAIN, "--canon", canon]
        for sel, key in selectors_keys:
            args += ["--selector", sel, "--key", key]
        return subprocess.run(args, input=msg, check=True, capture_output=True).stdout

    def refmail_verify(msg):
        p = subprocess.run([TOOL, "verify", "--keys", keys_file], input=msg, capture_output=True)
        return p.returncode == 0, p.stdout.decode()

    def dkimpy_verify_all(msg):
        d = dkim.DKIM(msg)
        n = sum(1 for h in d.headers if h[0].lower() == b"dkim-signature")
        try:
            return n > 0 and all(d.verify(idx=i, dnsfunc=dnsfunc) for i in range(n)), n
        except dkim.DKIMException as e:  # what dkim.verify() turns into False
            print("  dkimpy:", e)
            return False, n

    def dkimpy_sign(msg, selector, key, algo, canon, length=False):
        sig = dkim.sign(msg, selector.encode(), DOMAIN.encode(), key,
                        canonicalize=canon, signature_algorithm=algo, length=length)
        return sig + msg

    rsa_key = open(rsa_pem, "rb").read()
    ed_key = base64.b64encode(seed)

    # (a) refmail signs, dkimpy verifies.
    for canon in ("relaxed/relaxed", "simple/simple", "relaxed/simple", "simple/relaxed"):
        for sel, key in (("rsa", rsa_pem), ("ed", ed_seed), ("edpem", ed_pem)):
            signed = refmail_sign(MESSAGE, [(sel, key)], canon)
            ok, n = dkimpy_verify_all(signed)
            check(ok and n == 1, f"(a) dkimpy verifies refmail {sel} {canon}")
            tampered = signed.replace(b"hungry", b"thirsty")
            check(not dkimpy_verify_all(tampered)[0], f"(a) dkimpy rejects tampered refmail {sel} {canon}")
    dual = refmail_sign(MESSAGE, [("rsa", rsa_pem), ("ed", ed_seed)], "relaxed/relaxed")
    ok, n = dkimpy_verify_all(dual)
    check(ok and n == 2, "(a) dkimpy verifies refmail dual RSA + Ed25519")

    # (b) dkimpy signs, refmail verifies.
    for canon in ((b"simple", b"simple"), (b"relaxed", b"relaxed"), (b"relaxed", b"simple")):
        for sel, key, algo in (("rsa", rsa_key, b"rsa-sha256"), ("ed", ed_key, b"ed25519-sha256")):
            for length in (False, True):
                signed = dkimpy_sign(MESSAGE, sel, key, algo, canon, length)
                what = f"(b) refmail verifies dkimpy {sel} {canon} l={length}"
                ok, out = refmail_verify(signed)
                check(ok, what + ": " + out)
                if length:
                    check("l= covers" in out, what + " reports l=: " + out)
                    # Content appended after l= still verifies, and is flagged.
                    ok2, out2 = refmail_verify(signed + b"appended\r\n")
                    check(ok2 and "l= covers" in out2, what + " appended: " + out2)
                ok3, out3 = refmail_verify(signed.replace(b"hungry", b"thirsty"))
                check(not ok3 and "dkim=fail" in out3, what + " tampered: " + out3)

    # (c) corpus messages, both ways.
    for rel in CORPUS_FILES:
        path = os.path.join(CORPUS, rel)
        msg = open(path, "rb").read()
        signed = dkimpy_sign(msg, "rsa", rsa_key, b"rsa-sha256", (b"relaxed", b"simple"))
        ok, out = refmail_verify(signed)
        check(ok, f"(c) refmail verifies dkimpy-signed {rel}: {out}")
        signed = dkimpy_sign(msg, "ed", ed_key, b"ed25519-sha256", (b"simple", b"simple"))
        ok, out = refmail_verify(signed)
        check(ok, f"(c) refmail verifies dkimpy-signed ed25519 {rel}: {out}")
        for canon in ("relaxed/relaxed", "simple/simple"):
            signed = refmail_sign(msg, [("rsa", rsa_pem), ("ed", ed_seed)], canon)
            ok, n = dkimpy_verify_all(signed)
            check(ok and n == 2, f"(c) dkimpy verifies refmail-signed {rel} {canon}")

    print(f"{CHECKS} checks, {len(FAILURES)} failures")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())

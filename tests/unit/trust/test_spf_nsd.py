#!/usr/bin/env python3
"""tests/unit/trust/test_spf_nsd.py — SPF through the real resolver path: nsd (Debian
package `nsd`, an authoritative server) serves a temporary zone on a free loopback port
and refmail_spf_tool asks it through server::AresDnsLookup (c-ares). Proves what a table
cannot: TXT records of several strings arrive concatenated, a 4000-octet record arrives
whole (over TCP after a truncated UDP answer), NXDOMAIN and NODATA stay apart from
REFUSED (temperror), PTR and AAAA answers parse.

Usage: test_spf_nsd.py PATH/TO/refmail_spf_tool   (ctest passes it)
Fails loudly when nsd is missing (tools/install-deps.sh --test installs it).
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "e2e"))
from nsd_server import Nsd, txt  # noqa: E402  (tests/e2e/nsd_server.py)

BIG = "v=spf1" + "".join(" ip4:10.%d.%d.1" % (i // 250, i % 250) for i in range(270)) + " ip4:192.0.2.77 -all"


ZONE = """$ORIGIN test.
$TTL 60
@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
@ IN NS ns.test.
ns IN A 127.0.0.1
multi IN TXT "v=spf1 " "ip4:192.0.2.0/24" " -all"
big IN TXT %s
mx IN TXT "v=spf1 mx -all"
mx IN MX 10 mx1.test.
mx1 IN A 192.0.2.1
a6 IN TXT "v=spf1 a -all"
a6 IN AAAA 2001:db8::6
ptr IN TXT "v=spf1 ptr -all"
host.ptr IN A 192.0.2.5
inc IN TXT "v=spf1 include:multi.test -all"
ex IN TXT "v=spf1 exists:%%{ir}.bl.test -all"
1.2.0.192.bl IN A 127.0.0.2
void IN TXT "v=spf1 a:n1.test a:n2.test a:n3.test -all"
refused IN TXT "v=spf1 a:host.example.org -all"
""" % txt(BIG)

REVERSE = """$ORIGIN 2.0.192.in-addr.arpa.
$TTL 60
@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
@ IN NS ns.test.
5 IN PTR host.ptr.test.
"""

# (ip, sender, expected result)
CASES = [
    ("192.0.2.9", "u@multi.test", "pass"),        # three strings, one record
    ("198.51.100.1", "u@multi.test", "fail"),
    ("192.0.2.77", "u@big.test", "pass"),         # the last term of a 4000-octet record
    ("192.0.2.78", "u@big.test", "fail"),
    ("192.0.2.1", "u@mx.test", "pass"),
    ("192.0.2.2", "u@mx.test", "fail"),
    ("2001:db8::6", "u@a6.test", "pass"),
    ("192.0.2.5", "u@ptr.test", "pass"),
    ("192.0.2.6", "u@ptr.test", "fail"),
    ("192.0.2.3", "u@inc.test", "pass"),
    ("192.0.2.1", "u@ex.test", "pass"),
    ("192.0.2.2", "u@ex.test", "fail"),
    ("192.0.2.1", "u@nothing.test", "none"),      # NXDOMAIN
    ("192.0.2.1", "u@mx1.test", "none"),          # NODATA
    ("192.0.2.1", "u@void.test", "permerror"),    # three NXDOMAIN terms
    ("192.0.2.1", "u@refused.test", "temperror"), # REFUSED for a zone nsd does not serve
]


def main():
    tool = sys.argv[1]
    try:
        nsd = Nsd({"test": ZONE, "2.0.192.in-addr.arpa": REVERSE})
    except RuntimeError as e:
        print(e)
        return 1
    port = nsd.port
    try:
        stdin = "".join("%s %s h.test\n" % (ip, sender) for ip, sender, _ in CASES)
        out = subprocess.run([tool, "dns:127.0.0.1:%d" % port], input=stdin, capture_output=True, text=True,
                             timeout=60, check=True).stdout.split("\n")
        failures = []
        for k, (ip, sender, want) in enumerate(CASES):
            got = out[k].split("\t")[0] if k < len(out) else "(no answer)"
            if got != want:
                failures.append("%s from %s: got %s, want %s" % (sender, ip, got, want))
        if failures:
            print("through nsd:\n  " + "\n  ".join(failures))
            return 1
        print("%d SPF checks through c-ares and nsd as expected" % len(CASES))
        return 0
    finally:
        nsd.stop()


if __name__ == "__main__":
    sys.exit(main())

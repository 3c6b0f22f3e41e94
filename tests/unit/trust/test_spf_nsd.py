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
import shutil
import socket
import subprocess
import sys
import tempfile
import time

NSD = shutil.which("nsd") or "/usr/sbin/nsd"

BIG = "v=spf1" + "".join(" ip4:10.%d.%d.1" % (i // 250, i % 250) for i in range(270)) + " ip4:192.0.2.77 -all"


def txt(value):
    # A TXT record as character-strings of at most 250 octets.
    return " ".join('"%s"' % value[i:i + 250] for i in range(0, len(value), 250))


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


def free_port():
    # A port free for both UDP and TCP (nsd listens on both).
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise RuntimeError("no free port")


def main():
    tool = sys.argv[1]
    if not os.path.exists(NSD):
        print("nsd is not installed (apt-get install nsd; tools/install-deps.sh --test)")
        return 1
    work = tempfile.mkdtemp(prefix="refmail-nsd-")
    port = free_port()
    with open(os.path.join(work, "test.zone"), "w") as f:
        f.write(ZONE)
    with open(os.path.join(work, "reverse.zone"), "w") as f:
        f.write(REVERSE)
    conf = os.path.join(work, "nsd.conf")
    with open(conf, "w") as f:
        f.write("""server:
  ip-address: 127.0.0.1
  port: %d
  do-ip6: no
  username: ""
  chroot: ""
  zonesdir: "%s"
  database: ""
  zonelistfile: "%s/zone.list"
  xfrdfile: "%s/xfrd.state"
  pidfile: "%s/nsd.pid"
  logfile: "%s/nsd.log"
  server-count: 1
  verbosity: 1
remote-control:
  control-enable: no
zone:
  name: "test"
  zonefile: "test.zone"
zone:
  name: "2.0.192.in-addr.arpa"
  zonefile: "reverse.zone"
""" % (port, work, work, work, work, work))
    proc = subprocess.Popen([NSD, "-d", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 15
        while True:
            if proc.poll() is not None:
                print("nsd exited: %s" % proc.stderr.read().decode(errors="replace"))
                return 1
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.time() > deadline:
                    print("nsd did not start on port %d" % port)
                    return 1
                time.sleep(0.1)
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
        proc.terminate()  # the nsd this test started, by its own handle
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

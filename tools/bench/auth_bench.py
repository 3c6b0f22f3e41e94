#!/usr/bin/env python3
"""tools/bench/auth_bench.py — SMTP throughput with inbound authentication on and off
(issue 18's goal: on >= 90% of off), same build, same store template, same session.

"on": [auth] verify with skip_networks = [] (the loopback load client is checked like the
world), DNS answered by nsd on loopback (tests/e2e/nsd_server.py) serving the workload's
sender domain with SPF (pass) and DMARC (p=none) records and the client's PTR: every
message costs iprev, SPF, a DKIM pass over it (unsigned: dkim=none) and DMARC, with four
DNS round trips to a local authoritative server. "off": [auth] verify = false. Modes alternate round by round.
Load: tools/bench/smtp_load.py (PIPELINING, 8 connections, --limit messages) to the MX.

Usage:
  auth_bench.py --build build --workload /work/bench-work/synth [--rounds 3] [--limit 1000]
"""
import argparse, os, shutil, sys, tempfile

HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "e2e"))
import mail_core_bench  # noqa: E402  (throughput_round)
import smtp_compare  # noqa: E402  (prepare_template)
from nsd_server import Nsd  # noqa: E402

ZONE = """$ORIGIN example.test.
$TTL 3600
@ IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 60
@ IN NS ns.example.test.
ns IN A 127.0.0.1
@ IN TXT "v=spf1 ip4:127.0.0.1 -all"
_dmarc IN TXT "v=DMARC1; p=none"
client IN A 127.0.0.1
"""
REVERSE = """$ORIGIN 0.0.127.in-addr.arpa.
$TTL 3600
@ IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 60
@ IN NS ns.example.test.
1 IN PTR client.example.test.
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--workload", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--limit", type=int, default=1000)
    a = ap.parse_args()
    nsd = Nsd({"example.test": ZONE, "0.0.127.in-addr.arpa": REVERSE})
    tmp = tempfile.mkdtemp(prefix="auth-bench-")
    modes = {"off": "[auth]\nverify = false\n",
             "on": f'[auth]\nskip_networks = []\n[relay]\ndns_servers = ["127.0.0.1:{nsd.port}"]\n'}
    results = {m: [] for m in modes}
    try:
        ta = argparse.Namespace(build=a.build, log_level="warn", workload=a.workload)
        template = smtp_compare.prepare_template(ta, tempfile.mkdtemp(prefix="tpl-", dir=tmp))
        for r in range(a.rounds):
            for m in (("off", "on") if r % 2 == 0 else ("on", "off")):
                res = mail_core_bench.throughput_round(a.build, a, tmp, template, modes[m])
                results[m].append(res)
                print(f"round {r + 1} {m} {res}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        nsd.stop()
    print("\n| [auth] | msg/s per round | server CPU ms/msg per round | errors |")
    print("|---|---|---|---|")
    for m, rows in results.items():
        print(f"| {m} | {' '.join(str(x['msg_per_s']) for x in rows)} | "
              f"{' '.join(str(x['server_cpu_ms_per_msg']) for x in rows)} | {sum(x['errors'] for x in rows)} |")


if __name__ == "__main__":
    main()

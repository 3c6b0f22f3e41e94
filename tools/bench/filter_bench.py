#!/usr/bin/env python3
"""tools/bench/filter_bench.py — SMTP throughput with filtering (issue 20): every
recipient running a 20-rule Sieve script, rspamd on, both, and neither; same build, same
workload, same store template, modes alternating round by round.

"sieve": before the rounds, each of the workload's users uploads the script below over
ManageSieve (python3-sievelib) and activates it; 19 rules do not match the synthetic mail
(every test is evaluated), one files mail from one sender domain into a folder. "rspamd":
Debian's rspamd started on loopback (tests/e2e/rspamd_server.py: its own config, DNS at a
closed port, so no network checks wait) and [spam] rspamd pointed at it.
Load: tools/bench/smtp_load.py (PIPELINING, 8 connections, --limit messages) to the MX.

Usage:
  filter_bench.py --build build --workload /work/bench-work/synth [--rounds 3] [--limit 1000]
"""
import argparse, json, os, shutil, sys, tempfile

HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "e2e"))
import mail_core_bench  # noqa: E402  (throughput_round)
import smtp_compare  # noqa: E402  (prepare_template, Refmaild)
from rspamd_server import Rspamd  # noqa: E402

DIST = "/usr/lib/python3/dist-packages"
try:
    from sievelib.managesieve import Client
except ImportError:
    sys.path.append(DIST)
    from sievelib.managesieve import Client

RULES = ['require ["fileinto", "imap4flags", "mailbox", "envelope", "relational", "comparator-i;ascii-numeric"];']
for i in range(18):
    RULES.append('if header :contains "subject" "project-%02d-status" { fileinto :create "Projects/%02d"; stop; }'
                 % (i, i))
RULES.append('if address :domain :is "from" "newsletter.invalid" { addflag "$newsletter"; fileinto :create "News"; }')
RULES.append('if header :value "ge" :comparator "i;ascii-numeric" "x-priority" "5" { addflag "$low"; }')
SCRIPT = "\r\n".join(RULES) + "\r\n"
assert SCRIPT.count("if ") == 20


def sieve_template(build, workload, template, tmp):
    """A copy of `template` where every recipient of the workload has SCRIPT active."""
    data = os.path.join(tmp, "sieve-data")
    shutil.copytree(template, data)
    d = smtp_compare.Refmaild(build, data, tmp, "warn", "[smtp]\nplain_auth_on_loopback = true\n")
    d.start()
    try:
        users = sorted({r for l in open(os.path.join(workload, "manifest.jsonl")) for r in json.loads(l)["rcpt"]})
        for u in users:
            c = Client("127.0.0.1", d.ports["managesieve"])
            if not c.connect(u, "bench-" + u, authmech="PLAIN"):
                raise RuntimeError("ManageSieve login failed for " + u)
            if not (c.putscript("rules", SCRIPT) and c.setactive("rules")):
                raise RuntimeError("PUTSCRIPT failed for %s: %s" % (u, c.errmsg))
            c.logout()
        print("sieve template: %d users with a 20-rule script" % len(users), flush=True)
    finally:
        d.stop()
    return data


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--workload", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--limit", type=int, default=1000)
    a = ap.parse_args()
    rspamd = Rspamd()
    tmp = tempfile.mkdtemp(prefix="filter-bench-")
    spam = '[spam]\nrspamd = "127.0.0.1:%d"\ntimeout = 30\n' % rspamd.port
    results = {m: [] for m in ("off", "sieve", "rspamd", "both")}
    try:
        ta = argparse.Namespace(build=a.build, log_level="warn", workload=a.workload)
        plain = smtp_compare.prepare_template(ta, tempfile.mkdtemp(prefix="tpl-", dir=tmp))
        with_sieve = sieve_template(a.build, a.workload, plain, tempfile.mkdtemp(prefix="tpl-sieve-", dir=tmp))
        modes = {"off": (plain, ""), "sieve": (with_sieve, ""), "rspamd": (plain, spam), "both": (with_sieve, spam)}
        order = list(modes)
        for r in range(a.rounds):
            for m in (order if r % 2 == 0 else list(reversed(order))):
                template, extra = modes[m]
                res = mail_core_bench.throughput_round(a.build, a, tmp, template, extra)
                results[m].append(res)
                print(f"round {r + 1} {m} {json.dumps(res)}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        rspamd.stop()
    print("\n| filtering | msg/s per round | server CPU ms/msg per round | errors |")
    print("|---|---|---|---|")
    for m, rows in results.items():
        print(f"| {m} | {' '.join(str(x['msg_per_s']) for x in rows)} | "
              f"{' '.join(str(x['server_cpu_ms_per_msg']) for x in rows)} | {sum(x['errors'] for x in rows)} |")


if __name__ == "__main__":
    main()

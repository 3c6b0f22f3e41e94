#!/usr/bin/env python3
"""tests/unit/trust/test_spf_pyspf.py — trust/spf against pyspf (Debian python3-spf), an
independent RFC 7208 implementation: one zone table, served to refmail_spf_tool as a
file and to pyspf through its replaceable module-level spf.DNSLookup; every case is
evaluated by both and the results must agree, and must also equal the result written
in the table (so a bug shared by both, or a table that serves nothing, still fails).

Deliberate disagreements are listed in DISAGREE with the RFC reason; for those, both
sides must give exactly the result written there.

Usage: test_spf_pyspf.py PATH/TO/refmail_spf_tool   (ctest passes it)
"""
import os
import subprocess
import sys
import tempfile

try:
    import spf  # noqa: F401
except ImportError:
    # The default python3 may be a pyenv build without Debian's packages.
    for p in ("/usr/lib/python3/dist-packages",):
        if os.path.isfile(os.path.join(p, "spf.py")) and p not in sys.path:
            sys.path.append(p)
    import spf

ZONE = r"""
# results by qualifier
q-pass.test TXT v=spf1 +all
q-fail.test TXT v=spf1 -all
q-soft.test TXT v=spf1 ~all
q-neutral.test TXT v=spf1 ?all
q-empty.test TXT v=spf1
q-upper.test TXT V=SPF1 IP4:192.0.2.1 -ALL
q-spaces.test TXT v=spf1   ip4:192.0.2.1    -all
norecord.test TXT some other text
norecord.test A 192.0.2.1
notspf.test TXT v=spf10 +all
two.test TXT v=spf1 +all
two.test TXT v=spf1 -all
servfail.test SERVFAIL
# ip4 / ip6
ip4.test TXT v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.7 -all
ip6.test TXT v=spf1 ip6:2001:db8::/32 -all
# a
a.test TXT v=spf1 a -all
a.test A 192.0.2.10
a.test AAAA 2001:db8::10
a-cidr.test TXT v=spf1 a:host.a-cidr.test/24//64 -all
host.a-cidr.test A 192.0.2.10
host.a-cidr.test AAAA 2001:db8:1:2::10
a-fail.test TXT v=spf1 a:bad.a-fail.test -all
bad.a-fail.test SERVFAIL
# mx
mx.test TXT v=spf1 mx -all
mx.test MX 20 mx2.mx.test
mx.test MX 10 mx1.mx.test
mx1.mx.test A 192.0.2.1
mx2.mx.test A 192.0.2.2
mx2.mx.test AAAA 2001:db8::2
mx-cidr.test TXT v=spf1 mx:mx.test/30//120 -all
mx-many.test TXT v=spf1 mx -all
mx-many.test MX 1 h1.mx.test
mx-many.test MX 2 h2.mx.test
mx-many.test MX 3 h3.mx.test
mx-many.test MX 4 h4.mx.test
mx-many.test MX 5 h5.mx.test
mx-many.test MX 6 h6.mx.test
mx-many.test MX 7 h7.mx.test
mx-many.test MX 8 h8.mx.test
mx-many.test MX 9 h9.mx.test
mx-many.test MX 10 h10.mx.test
mx-many.test MX 11 mx1.mx.test
mx-noaddr.test TXT v=spf1 mx -all
mx-noaddr.test MX 10 v6only1.mx.test
mx-noaddr.test MX 20 v6only2.mx.test
mx-noaddr.test MX 30 v6only3.mx.test
v6only1.mx.test AAAA 2001:db8::61
v6only2.mx.test AAAA 2001:db8::62
v6only3.mx.test AAAA 2001:db8::63
# ptr
ptr.test TXT v=spf1 ptr -all
ptr-dom.test TXT v=spf1 ptr:ptr.test -all
1.2.0.192.in-addr.arpa PTR mail.ptr.test
mail.ptr.test A 192.0.2.1
2.2.0.192.in-addr.arpa PTR forged.ptr.test
forged.ptr.test A 203.0.113.9
ptr-fail.test TXT v=spf1 ptr ~all
9.2.0.192.in-addr.arpa SERVFAIL
# exists and macros
exists.test TXT v=spf1 exists:%{ir}.%{v}.list.test -all
1.2.0.192.in-addr.list.test A 127.0.0.2
1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.list.test A 127.0.0.2
macro-l.test TXT v=spf1 exists:%{l}.%{o}.users.test -all
alice.macro-l.test.users.test A 127.0.0.1
macro-lr.test TXT v=spf1 exists:%{lr-}.%{d2}.parts.test -all
bad.strong.macro-lr.test.parts.test A 127.0.0.1
macro-h.test TXT v=spf1 exists:%{h}.helo.test -all
good.example.helo.test A 127.0.0.1
macro-upper.test TXT v=spf1 exists:%{L}.esc.test -all
a%2Bb.esc.test A 127.0.0.1
macro-dr.test TXT v=spf1 exists:%{d1r}.%{d2}.dr.test -all
macro-dr.macro-dr.test.dr.test A 127.0.0.1
macro-bad.test TXT v=spf1 exists:%{z}.x.test -all
macro-zero.test TXT v=spf1 exists:%{d0}.x.test -all
# include and redirect
inc.test TXT v=spf1 include:_spf.inc-target.test -all
_spf.inc-target.test TXT v=spf1 ip4:192.0.2.0/24 ~all
inc-none.test TXT v=spf1 include:nothing.test -all
inc-temp.test TXT v=spf1 include:servfail.test -all
inc-perm.test TXT v=spf1 include:syntax.test -all
syntax.test TXT v=spf1 foo -all
loop.test TXT v=spf1 include:loop.test -all
redir.test TXT v=spf1 redirect=_spf.redir-target.test
_spf.redir-target.test TXT v=spf1 a:%{d} -all
_spf.redir-target.test A 192.0.2.77
redir-none.test TXT v=spf1 redirect=nothing.test
redir-late.test TXT v=spf1 ?all redirect=q-fail.test
redir-twice.test TXT v=spf1 redirect=q-pass.test redirect=q-fail.test
# limits
ten.test TXT v=spf1 include:q-neutral.test include:q-neutral.test include:q-neutral.test include:q-neutral.test include:q-neutral.test include:q-neutral.test include:q-neutral.test include:q-neutral.test include:q-neutral.test include:q-neutral.test -all
eleven.test TXT v=spf1 include:q-neutral.test include:q-neutral.test include:q-neutral.test include:q-neutral.test include:q-neutral.test include:q-neutral.test include:q-neutral.test include:q-neutral.test include:q-neutral.test include:q-neutral.test include:q-pass.test -all
nested.test TXT v=spf1 a:x.a.test a:x.a.test a:x.a.test a:x.a.test include:nested-inner.test redirect=q-pass.test
nested-inner.test TXT v=spf1 a:y.a.test a:y.a.test a:y.a.test a:y.a.test a:y.a.test
x.a.test A 10.0.0.1
y.a.test A 10.0.0.1
void2.test TXT v=spf1 a:nx1.test a:nx2.test -all
void3.test TXT v=spf1 a:nx1.test mx:nx2.test exists:nx3.test -all
# syntax errors
syn-unknown.test TXT v=spf1 ip4:192.0.2.1 foo:bar -all
syn-cidr.test TXT v=spf1 ip4:192.0.2.0/33 -all
syn-ip.test TXT v=spf1 ip4:192.0.2.256 -all
syn-all.test TXT v=spf1 -all:foo
syn-domain.test TXT v=spf1 a:nodot -all
syn-mod.test TXT v=spf1 foo=bar -all
syn-exists.test TXT v=spf1 exists -all
# exp=
exp.test TXT v=spf1 -all exp=explain.exp.test
explain.exp.test TXT %{i} is not one of %{d}'s designated mail servers.
exp-bad.test TXT v=spf1 -all exp=nothing.exp.test
# the HELO identity (null reverse path)
helo.example TXT v=spf1 a -all
helo.example A 192.0.2.20
"""

# (name, ip, sender, helo, expected result, expected explanation or None)
CASES = [
    ("+all", "192.0.2.1", "u@q-pass.test", "h.test", "pass", None),
    ("-all", "192.0.2.1", "u@q-fail.test", "h.test", "fail", None),
    ("~all", "192.0.2.1", "u@q-soft.test", "h.test", "softfail", None),
    ("?all", "192.0.2.1", "u@q-neutral.test", "h.test", "neutral", None),
    ("empty record", "192.0.2.1", "u@q-empty.test", "h.test", "neutral", None),
    ("upper case", "192.0.2.1", "u@q-upper.test", "h.test", "pass", None),
    ("extra spaces", "192.0.2.1", "u@q-spaces.test", "h.test", "pass", None),
    ("no SPF record", "192.0.2.1", "u@norecord.test", "h.test", "none", None),
    ("NXDOMAIN", "192.0.2.1", "u@nothing.test", "h.test", "none", None),
    ("v=spf10", "192.0.2.1", "u@notspf.test", "h.test", "none", None),
    ("two records", "192.0.2.1", "u@two.test", "h.test", "permerror", None),
    ("TXT SERVFAIL", "192.0.2.1", "u@servfail.test", "h.test", "temperror", None),
    ("ip4 cidr in", "192.0.2.200", "u@ip4.test", "h.test", "pass", None),
    ("ip4 single", "198.51.100.7", "u@ip4.test", "h.test", "pass", None),
    ("ip4 out", "198.51.100.8", "u@ip4.test", "h.test", "fail", None),
    ("ip4 vs IPv6 client", "2001:db8::1", "u@ip4.test", "h.test", "fail", None),
    ("ip6 in", "2001:db8:ffff::1", "u@ip6.test", "h.test", "pass", None),
    ("ip6 out", "2001:db9::1", "u@ip6.test", "h.test", "fail", None),
    ("a v4", "192.0.2.10", "u@a.test", "h.test", "pass", None),
    ("a v4 out", "192.0.2.11", "u@a.test", "h.test", "fail", None),
    ("a v6", "2001:db8::10", "u@a.test", "h.test", "pass", None),
    ("a dual cidr v4", "192.0.2.99", "u@a-cidr.test", "h.test", "pass", None),
    ("a dual cidr v6", "2001:db8:1:2:ffff::1", "u@a-cidr.test", "h.test", "pass", None),
    ("a dual cidr v6 out", "2001:db8:1:3::10", "u@a-cidr.test", "h.test", "fail", None),
    ("a SERVFAIL", "192.0.2.1", "u@a-fail.test", "h.test", "temperror", None),
    ("mx first", "192.0.2.1", "u@mx.test", "h.test", "pass", None),
    ("mx second v6", "2001:db8::2", "u@mx.test", "h.test", "pass", None),
    ("mx out", "192.0.2.3", "u@mx.test", "h.test", "fail", None),
    ("mx cidr", "192.0.2.3", "u@mx-cidr.test", "h.test", "pass", None),
    ("mx cidr v6", "2001:db8::ff", "u@mx-cidr.test", "h.test", "pass", None),
    ("mx cidr out", "192.0.2.9", "u@mx-cidr.test", "h.test", "fail", None),
    ("11 MX records", "192.0.2.1", "u@mx-many.test", "h.test", "permerror", None),
    ("ptr", "192.0.2.1", "u@ptr.test", "h.test", "pass", None),
    ("ptr:domain", "192.0.2.1", "u@ptr-dom.test", "h.test", "pass", None),
    ("ptr forged", "192.0.2.2", "u@ptr.test", "h.test", "fail", None),
    ("exists %{ir}.%{v}", "192.0.2.1", "u@exists.test", "h.test", "pass", None),
    ("exists IPv6 %{ir}", "2001:db8::1", "u@exists.test", "h.test", "pass", None),
    ("exists out", "192.0.2.2", "u@exists.test", "h.test", "fail", None),
    ("%{l}.%{o}", "192.0.2.1", "alice@macro-l.test", "h.test", "pass", None),
    ("%{l}.%{o} out", "192.0.2.1", "bob@macro-l.test", "h.test", "fail", None),
    ("%{lr-}.%{d2}", "192.0.2.1", "strong-bad@macro-lr.test", "h.test", "pass", None),
    ("%{h}", "192.0.2.1", "u@macro-h.test", "good.example", "pass", None),
    ("%{L} escaped", "192.0.2.1", "a+b@macro-upper.test", "h.test", "pass", None),
    ("%{d1r}.%{d2}", "192.0.2.1", "u@macro-dr.test", "h.test", "pass", None),
    ("bad macro letter", "192.0.2.1", "u@macro-bad.test", "h.test", "permerror", None),
    ("include pass", "192.0.2.5", "u@inc.test", "h.test", "pass", None),
    ("include softfail continues", "198.51.100.1", "u@inc.test", "h.test", "fail", None),
    ("include of no record", "192.0.2.1", "u@inc-none.test", "h.test", "permerror", None),
    ("include SERVFAIL", "192.0.2.1", "u@inc-temp.test", "h.test", "temperror", None),
    ("include syntax error", "192.0.2.1", "u@inc-perm.test", "h.test", "permerror", None),
    ("include loop", "192.0.2.1", "u@loop.test", "h.test", "permerror", None),
    ("redirect %{d}", "192.0.2.77", "u@redir.test", "h.test", "pass", None),
    ("redirect fail", "192.0.2.78", "u@redir.test", "h.test", "fail", None),
    ("redirect to none", "192.0.2.1", "u@redir-none.test", "h.test", "permerror", None),
    ("match before redirect", "192.0.2.1", "u@redir-late.test", "h.test", "neutral", None),
    ("two redirects", "192.0.2.1", "u@redir-twice.test", "h.test", "permerror", None),
    ("10 lookups", "192.0.2.1", "u@ten.test", "h.test", "fail", None),
    ("11 lookups", "192.0.2.1", "u@eleven.test", "h.test", "permerror", None),
    ("11 across include+redirect", "192.0.2.1", "u@nested.test", "h.test", "permerror", None),
    ("2 void lookups", "192.0.2.1", "u@void2.test", "h.test", "fail", None),
    ("3 void lookups", "192.0.2.1", "u@void3.test", "h.test", "permerror", None),
    ("unknown mechanism after a match", "192.0.2.1", "u@syn-unknown.test", "h.test", "permerror", None),
    ("ip4 /33", "192.0.2.1", "u@syn-cidr.test", "h.test", "permerror", None),
    ("ip4 256", "192.0.2.1", "u@syn-ip.test", "h.test", "permerror", None),
    ("all:foo", "192.0.2.1", "u@syn-all.test", "h.test", "permerror", None),
    ("a:nodot", "192.0.2.1", "u@syn-domain.test", "h.test", "permerror", None),
    ("unknown modifier", "192.0.2.1", "u@syn-mod.test", "h.test", "fail", None),
    ("exists without domain", "192.0.2.1", "u@syn-exists.test", "h.test", "permerror", None),
    ("exp=", "192.0.2.1", "u@exp.test", "h.test", "fail",
     "192.0.2.1 is not one of exp.test's designated mail servers."),
    ("exp= missing", "192.0.2.1", "u@exp-bad.test", "h.test", "fail", None),
    ("null sender uses HELO", "192.0.2.20", "-", "helo.example", "pass", None),
    ("null sender HELO fail", "192.0.2.21", "-", "helo.example", "fail", None),
    ("no local part", "192.0.2.1", "@q-fail.test", "h.test", "fail", None),
]

# Deliberate disagreements: name -> (refmail result, pyspf result, reason).
DISAGREE = {
    "mx hosts without A records": (
        "fail", "permerror",
        "RFC 7208 4.6.4 limits void lookups per *term*; the mx term got its MX records, so "
        "hosts that have only AAAA are not void terms. pyspf counts every empty address "
        "query of every MX host, so a domain whose three MX hosts are IPv6-only permerrors "
        "for every IPv4 client."),
    "ptr lookup SERVFAIL": (
        "softfail", "temperror",
        "RFC 7208 5.5: 'If a DNS error occurs while doing the PTR RR lookup, then this "
        "mechanism fails to match.' pyspf turns it into temperror."),
    "macro digit 0": (
        "permerror", "fail",
        "RFC 7208 7.1: 'If a DIGIT is specified, the value MUST be at least one'; %{d0} is a "
        "syntax error (permerror). pyspf expands it and goes on."),
}
DISAGREE_CASES = [
    ("mx hosts without A records", "192.0.2.1", "u@mx-noaddr.test", "h.test"),
    ("ptr lookup SERVFAIL", "192.0.2.9", "u@ptr-fail.test", "h.test"),
    ("macro digit 0", "192.0.2.1", "u@macro-zero.test", "h.test"),
]


def load_zone(text):
    zone, servfail = {}, set()
    for line in text.splitlines():
        words = line.split(None, 2)
        if not words or words[0].startswith("#"):
            continue
        name = words[0].lower().rstrip(".")
        if words[1].upper() == "SERVFAIL":
            servfail.add(name)
            continue
        zone.setdefault(name, {}).setdefault(words[1].upper(), []).append(words[2] if len(words) > 2 else "")
    return zone, servfail


def make_lookup(zone, servfail, queries):
    def lookup(name, qtype, *args, **kwargs):
        n = name.lower().rstrip(".")
        queries.append((qtype, n))
        if n in servfail:
            raise spf.TempError("DNS SERVFAIL (zone table)")
        out = []
        for value in zone.get(n, {}).get(qtype, []):
            if qtype in ("TXT", "SPF"):
                out.append(((name, qtype), [value.encode()]))
            elif qtype == "MX":
                pref, host = value.split()
                out.append(((name, qtype), (int(pref), host)))
            else:
                out.append(((name, qtype), value))
        return out
    return lookup


def pyspf_check(zone, servfail, ip, sender, helo):
    queries = []
    spf.DNSLookup = make_lookup(zone, servfail, queries)
    q = spf.query(i=ip, s="" if sender == "-" else sender, h=helo, receiver="receiver.test")
    q.t = "1700000000"
    res, _code, exp = q.check()
    return res, exp, queries


def main():
    tool = sys.argv[1]
    zone, servfail = load_zone(ZONE)
    with tempfile.NamedTemporaryFile("w", suffix=".zone", delete=False) as f:
        f.write(ZONE)
        zone_path = f.name
    try:
        all_cases = [(c[0], c[1], c[2], c[3]) for c in CASES] + DISAGREE_CASES
        stdin = "".join("%s %s %s\n" % (ip, sender, helo) for _, ip, sender, helo in all_cases)
        out = subprocess.run([tool, zone_path], input=stdin, capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(zone_path)
    lines = out.split("\n")
    failures = []
    for k, case in enumerate(CASES):
        name, ip, sender, helo, want, want_exp = case
        ours, _mech, our_exp = (lines[k].split("\t") + ["", ""])[:3]
        theirs, their_exp, queries = pyspf_check(zone, servfail, ip, sender, helo)
        if not queries:
            failures.append("%s: pyspf asked no DNS question (the table is not being served)" % name)
        if ours != theirs or ours != want:
            failures.append("%s: refmail=%s pyspf=%s expected=%s" % (name, ours, theirs, want))
        if want_exp is not None and (our_exp != want_exp or their_exp != want_exp):
            failures.append("%s: explanation refmail=%r pyspf=%r expected=%r" % (name, our_exp, their_exp, want_exp))
    for j, (name, ip, sender, helo) in enumerate(DISAGREE_CASES):
        ours = lines[len(CASES) + j].split("\t")[0]
        theirs, _exp, _q = pyspf_check(zone, servfail, ip, sender, helo)
        want_ours, want_theirs, _reason = DISAGREE[name]
        if ours != want_ours or theirs != want_theirs:
            failures.append("%s (deliberate disagreement): refmail=%s (want %s) pyspf=%s (want %s)"
                            % (name, ours, want_ours, theirs, want_theirs))
    if len(CASES) < 40:
        failures.append("only %d cases" % len(CASES))
    if failures:
        print("SPF disagreements:\n  " + "\n  ".join(failures))
        return 1
    print("%d SPF cases agree with pyspf %s; %d deliberate disagreements as documented"
          % (len(CASES), getattr(spf, "__version__", "?"), len(DISAGREE_CASES)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

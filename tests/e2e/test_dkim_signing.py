#!/usr/bin/env python3
"""tests/e2e/test_dkim_signing.py — DKIM signing of what refmail's users send (issue 18):
`refmailctl dkim keygen` makes an RSA and an Ed25519 key for a domain; a message
submitted over SMTP (AUTH) to a foreign and a local recipient is signed once, at
submission, by both keys; the foreign MX (a small SMTP server, tests/e2e/test_relay.py's
Peer, found through nsd on loopback) receives it and dkimpy (Debian python3-dkim, an
independent implementation) verifies both signatures; the local recipient's copy,
fetched over IMAP, carries the same signatures and verifies too. Rotation retires the old
keys (listed, still published, refused for removal while signing) and signs with the new."""
import imaplib
import json
import os
import random
import time
import unittest

from harness import JmapClient, main, dkimpy
from test_relay import ForeignMx, message, submit

dkim = dkimpy()


class DkimSigningTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fx = ForeignMx("[smtp]\nplain_auth_on_loopback = true\n")
        cls.peer, cls.d = cls.fx.peer, cls.fx.d
        cls.d.add_user("alice@example.test", "alice-pw")
        cls.d.add_user("bob@example.test", "bob-pw")

    @classmethod
    def tearDownClass(cls):
        cls.fx.close()

    def keys(self):
        return json.loads(self.d.ctl("dkim", "list", "example.test", "--json").stdout)["keys"]

    def verify_all(self, raw, records):
        """Every DKIM-Signature of `raw` verifies with dkimpy; returns their selectors."""
        def dnsfunc(name, timeout=5):
            return records.get(name.decode().rstrip("."), "").encode()
        d = dkim.DKIM(raw)
        sigs = [h for h in d.headers if h[0].lower() == b"dkim-signature"]
        selectors = []
        for i, (_, value) in enumerate(sigs):
            self.assertTrue(d.verify(idx=i, dnsfunc=dnsfunc), (i, value[:200]))
            tags = dict(t.strip().split(b"=", 1) for t in value.replace(b"\r\n", b"").split(b";") if b"=" in t)
            selectors.append(tags[b"s"].strip().decode())
        return sorted(selectors)

    def bob_copy(self, subject):
        m = imaplib.IMAP4("127.0.0.1", self.d.ports["imap"], timeout=60)
        try:
            m.login("bob@example.test", "bob-pw")
            m.select("INBOX")
            typ, data = m.search(None, "SUBJECT", '"%s"' % subject)
            nums = data[0].split()
            self.assertEqual(len(nums), 1, data)
            typ, data = m.fetch(nums[0], "(BODY.PEEK[])")
            return data[0][1]
        finally:
            m.logout()

    def send_and_collect(self, subject):
        data = message(subject, "bob@remote.test, bob@example.test", random.Random(subject).randbytes(40000))
        before = len(self.peer.messages)
        self.assertEqual(submit(self.d, ["bob@remote.test", "bob@example.test"], data), {})
        msgs = self.peer.wait(before + 1)
        self.assertGreater(len(msgs), before, self.d.tail())
        relayed = msgs[before][2]
        return data, relayed, self.bob_copy(subject)

    def test_1_unsigned_without_keys(self):
        _, relayed, local = self.send_and_collect("no-keys")
        self.assertNotIn(b"DKIM-Signature", relayed)
        self.assertNotIn(b"DKIM-Signature", local)

    def test_2_keygen_signs_both_copies_and_dkimpy_verifies(self):
        out = self.d.ctl("dkim", "keygen", "example.test").stdout
        self.assertIn("._domainkey.example.test. 3600 IN TXT", out)
        keys = self.keys()
        self.assertEqual(sorted(k["algorithm"] for k in keys), ["ed25519-sha256", "rsa-sha256"])
        self.assertTrue(all(k["signing"] for k in keys))
        self.assertEqual([k["bits"] for k in keys if k["algorithm"] == "rsa-sha256"], [2048])
        # A second keygen would replace the pair silently: refused, rotate is the way.
        self.assertNotEqual(self.d.ctl("dkim", "keygen", "example.test", check=False).returncode, 0)
        records = {k["dns_name"]: k["dns_record"] for k in keys}
        data, relayed, local = self.send_and_collect("signed-1")
        self.assertEqual(self.verify_all(relayed, records), sorted(records_sel(keys)))
        self.assertEqual(self.verify_all(local, records), sorted(records_sel(keys)))
        # One signing, stored: the local copy and the relayed one carry the same fields,
        # above the submitted bytes, which are kept exactly.
        self.assertEqual(signature_fields(relayed), signature_fields(local))
        self.assertTrue(relayed.endswith(data) and local.endswith(data))
        self.assertIn('dkim="d=example.test s=', self.d.tail(200))

    def test_3_rotate_retires_the_old_pair(self):
        old = {k["selector"] for k in self.keys() if k["signing"]}
        self.assertEqual(len(old), 2)
        self.d.ctl("dkim", "rotate", "example.test")
        keys = self.keys()
        new = {k["selector"] for k in keys if k["signing"]}
        self.assertEqual(len(new), 2)
        self.assertFalse(new & old)
        self.assertEqual({k["selector"] for k in keys if not k["signing"]}, old)
        show = self.d.ctl("dkim", "show", "example.test").stdout
        for sel in old | new:
            self.assertIn(sel + "._domainkey.example.test.", show)  # the old still to publish
        records = {k["dns_name"]: k["dns_record"] for k in keys}
        _, relayed, _ = self.send_and_collect("signed-2")
        self.assertEqual(set(self.verify_all(relayed, records)), new)
        # A signing key cannot be removed; a retired one can.
        self.assertNotEqual(self.d.ctl("dkim", "remove", "example.test", sorted(new)[0], check=False).returncode, 0)
        for sel in old:
            self.d.ctl("dkim", "remove", "example.test", sel)
        self.assertEqual({k["selector"] for k in self.keys()}, new)

    def test_4_jmap_submission_is_signed_too(self):
        keys = self.keys()
        records = {k["dns_name"]: k["dns_record"] for k in keys}
        a = JmapClient(self.d.ports["http"], "alice@example.test", "alice-pw")
        st, body, _ = a.upload(random.Random(9).randbytes(30000))
        self.assertEqual(st, 201, body)
        blob = json.loads(body)["blobId"]
        boxes = a.mailboxes()
        draft = {"mailboxIds": {boxes["drafts"]: True}, "from": [{"email": "alice@example.test"}],
                 "to": [{"email": "bob@remote.test"}, {"email": "bob@example.test"}], "subject": "composed-signed",
                 "textBody": [{"partId": "t", "type": "text/plain"}], "bodyValues": {"t": {"value": "Hello"}},
                 "attachments": [{"blobId": blob, "type": "application/octet-stream", "name": "d.bin"}]}
        before = len(self.peer.messages)
        r = a.call(["Email/set", {"accountId": a.account, "create": {"k1": draft}}, "c"],
                   ["EmailSubmission/set", {"accountId": a.account,
                                            "create": {"s1": {"emailId": "#k1", "identityId": "I0"}}}, "s"])
        self.assertIn("s1", r[1][1].get("created") or {}, r)
        msgs = self.peer.wait(before + 1)
        self.assertGreater(len(msgs), before, self.d.tail())
        relayed, local = msgs[before][2], self.bob_copy("composed-signed")
        signing = sorted(k["selector"] for k in keys if k["signing"])
        self.assertEqual(self.verify_all(relayed, records), signing)
        self.assertEqual(self.verify_all(local, records), signing)
        self.assertEqual(signature_fields(relayed), signature_fields(local))

    def test_5_dns_prints_every_record(self):
        out = self.d.ctl("dns", "Example.Test").stdout
        lines = [l for l in out.splitlines() if not l.startswith(";")]
        self.assertIn("example.test. 3600 IN MX 10 mx.example.test.", lines)
        self.assertIn('example.test. 3600 IN TXT "v=spf1 mx -all"', lines)
        self.assertIn('_dmarc.example.test. 3600 IN TXT "v=DMARC1; p=none; rua=mailto:postmaster@example.test"', lines)
        self.assertIn(f"_imaps._tcp.example.test. 3600 IN SRV 0 1 {self.d.ports['imaps']} mx.example.test.", lines)
        self.assertIn(f"_submission._tcp.example.test. 3600 IN SRV 10 1 {self.d.ports['submission']} mx.example.test.",
                      lines)
        # Every DKIM key's record, its strings joined, is the key's record.
        for k in self.keys():
            line = next(l for l in lines if l.startswith(k["dns_name"] + ". 3600 IN TXT ("))
            strings = line[line.index("(") + 1:line.rindex(")")].split('"')[1::2]
            self.assertTrue(all(len(x) <= 255 for x in strings))
            self.assertEqual("".join(strings), k["dns_record"])
        self.assertIn("; MTA-STS: not published", out)
        self.assertNotEqual(self.d.ctl("dns", "bad domain!", check=False).returncode, 0)

    def test_6_bounces_are_signed_with_the_hostnames_keys(self):
        self.d.ctl("dkim", "keygen", "mx.example.test")
        host_keys = json.loads(self.d.ctl("dkim", "list", "mx.example.test", "--json").stdout)["keys"]
        records = {k["dns_name"]: k["dns_record"] for k in host_keys}
        # The foreign MX refuses this recipient (the Peer's "reject*"): the relay bounces to alice.
        data = message("will-bounce", "reject-me@remote.test", b"x" * 3000)
        self.assertEqual(submit(self.d, ["reject-me@remote.test"], data), {})
        m = imaplib.IMAP4("127.0.0.1", self.d.ports["imap"], timeout=60)
        try:
            m.login("alice@example.test", "alice-pw")
            deadline = time.time() + 30
            nums = []
            while time.time() < deadline and not nums:
                m.select("INBOX")
                nums = m.search(None, "FROM", '"MAILER-DAEMON"')[1][0].split()
                time.sleep(0.2)
            self.assertEqual(len(nums), 1, self.d.tail())
            raw = m.fetch(nums[0], "(BODY.PEEK[])")[1][0][1]
        finally:
            m.logout()
        self.assertIn(b"will-bounce", raw)
        self.assertEqual(self.verify_all(raw, records), sorted(k["selector"] for k in host_keys))
        self.assertIn(b"d=mx.example.test", raw)


def records_sel(keys):
    return [k["selector"] for k in keys if k["signing"]]


def signature_fields(raw):
    head = raw.split(b"\r\n\r\n", 1)[0]
    fields, cur = [], None
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and cur is not None:
            cur += b"\r\n" + line
            continue
        if cur is not None:
            fields.append(cur)
        cur = line
    fields.append(cur)
    return [f for f in fields if f.lower().startswith(b"dkim-signature:")]


if __name__ == "__main__":
    main()

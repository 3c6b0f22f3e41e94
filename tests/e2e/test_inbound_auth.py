#!/usr/bin/env python3
"""tests/e2e/test_inbound_auth.py — inbound SPF, DKIM and DMARC on the MX (issue 18),
with the parts a user meets: nsd (an authoritative DNS server, tests/e2e/nsd_server.py)
serves the senders' zones on loopback and refmaild resolves them through c-ares; dkimpy
(Debian python3-dkim, an independent implementation) signs the mail and verifies what
refmaild hands back. Proves: one Authentication-Results field with refmail's verdicts
above the trace header; the received bytes kept exactly below it, so the sender's
signature still verifies when the message is fetched over IMAP and downloaded raw over
JMAP; a forged field claiming refmail's name removed, a foreign one kept; DMARC
quarantine into Junk with $junk; DMARC reject refused with 550 5.7.1 (enforced) and
nothing stored."""
import base64
import imaplib
import os
import smtplib
import subprocess
import tempfile
import unittest

from harness import Daemon, JmapClient, main, with_attachment, dkimpy
from nsd_server import Nsd, txt

dkim = dkimpy()

USER, PW = "bob@example.test", "bob-pw"


def rsa_key():
    """A 2048-bit RSA key: (PKCS#1 PEM for dkimpy, the DKIM key record)."""
    with tempfile.TemporaryDirectory() as d:
        k = os.path.join(d, "k.pem")
        subprocess.run(["openssl", "genrsa", "-traditional", "-out", k, "2048"], check=True, capture_output=True)
        der = subprocess.run(["openssl", "rsa", "-in", k, "-pubout", "-outform", "DER"], check=True,
                             capture_output=True).stdout
        with open(k, "rb") as f:
            pem = f.read()
    return pem, "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


class InboundAuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.key, cls.record = rsa_key()
        zone = """$ORIGIN test.
$TTL 60
@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
@ IN NS ns.test.
ns IN A 127.0.0.1
sender IN TXT "v=spf1 ip4:127.0.0.1 -all"
sel._domainkey.sender IN TXT %s
_dmarc.sender IN TXT "v=DMARC1; p=reject"
q IN TXT "v=spf1 -all"
_dmarc.q IN TXT "v=DMARC1; p=quarantine"
r IN TXT "v=spf1 -all"
_dmarc.r IN TXT "v=DMARC1; p=reject"
""" % txt(cls.record)
        # The client (127.0.0.1) has a PTR name that maps back to it: iprev passes.
        reverse = ("$ORIGIN 0.0.127.in-addr.arpa.\n$TTL 60\n@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60\n"
                   "@ IN NS ns.test.\n1 IN PTR out.sender.test.\n")
        zone += "out.sender IN A 127.0.0.1\n"
        cls.nsd = Nsd({"test": zone, "0.0.127.in-addr.arpa": reverse})
        try:
            # Loopback is checked too here (skip_networks = []): the test's client is the world.
            cls.d = Daemon(extra_toml=f'[relay]\ndns_servers = ["127.0.0.1:{cls.nsd.port}"]\n'
                                      '[auth]\nskip_networks = []\nenforce_dmarc_reject = true\n'
                                      '[smtp]\nplain_auth_on_loopback = true\n')
        except Exception:
            cls.nsd.stop()
            raise
        cls.d.add_user(USER, PW)

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.nsd.stop()

    def dnsfunc(self, name, timeout=5):
        # dkimpy's key lookup: the record nsd serves.
        self.assertEqual(name.rstrip(b"."), b"sel._domainkey.sender.test")
        return self.record.encode()

    def send(self, mail_from, message):
        with smtplib.SMTP("127.0.0.1", self.d.ports["smtp"], timeout=60) as s:
            s.ehlo("out.sender.test")
            s.sendmail(mail_from, [USER], message)

    def imap(self):
        m = imaplib.IMAP4("127.0.0.1", self.d.ports["imap"], timeout=60)
        m.login(USER, PW)
        return m

    def fetch(self, m, mailbox, subject):
        """(raw bytes, FLAGS line) of the one message with `subject` in `mailbox`, or None."""
        typ, _ = m.select(mailbox)
        self.assertEqual(typ, "OK", mailbox)
        typ, data = m.search(None, "SUBJECT", '"%s"' % subject)
        nums = data[0].split()
        if not nums:
            return None
        self.assertEqual(len(nums), 1, nums)
        typ, data = m.fetch(nums[0], "(FLAGS BODY.PEEK[])")
        self.assertEqual(typ, "OK")
        return data[0][1], data[0][0]

    def test_signed_message_passes_and_stays_verifiable(self):
        msg = with_attachment("signed-1", os.urandom(60000), USER, frm="Alice <alice@sender.test>")
        sig = dkim.sign(msg, b"sel", b"sender.test", self.key, canonicalize=(b"relaxed", b"simple"),
                        include_headers=[b"from", b"to", b"subject", b"mime-version", b"content-type"])
        signed = sig + msg
        self.assertTrue(dkim.verify(signed, dnsfunc=self.dnsfunc))
        self.send("alice@sender.test", signed)
        m = self.imap()
        try:
            raw, _ = self.fetch(m, "INBOX", "signed-1")
        finally:
            m.logout()
        head = raw[:raw.index(b"\r\nReceived: ") + 2]
        self.assertTrue(head.startswith(b"Authentication-Results: mx.example.test;\r\n"), raw[:600])
        for want in (b"iprev=pass policy.iprev=127.0.0.1 (out.sender.test)",
                     b"spf=pass smtp.mailfrom=alice@sender.test",
                     b"dkim=pass header.d=sender.test header.s=sel header.a=rsa-sha256",
                     b"dmarc=pass (p=reject dis=none) header.from=sender.test"):
            self.assertIn(want, head)
        # Below our two fields, the received bytes exactly; dkimpy still verifies them.
        self.assertTrue(raw.endswith(signed))
        rest = raw[len(head):len(raw) - len(signed)]
        self.assertTrue(rest.startswith(b"Received: ") and rest.count(b"\r\n") == 3, rest)
        self.assertTrue(dkim.verify(raw, dnsfunc=self.dnsfunc))
        # The raw download over JMAP is the same bytes (the attachment rebuilt from its blob).
        j = JmapClient(self.d.ports["http"], USER, PW)
        r = j.call(["Email/query", {"accountId": j.account, "filter": {"subject": "signed-1"}}, "q"],
                   ["Email/get", {"accountId": j.account, "properties": ["blobId", "header:Authentication-Results"],
                                  "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"}}, "g"])
        got = r[1][1]["list"]
        self.assertEqual(len(got), 1, r)
        self.assertIn("dmarc=pass (p=reject dis=none) header.from=sender.test", got[0]["header:Authentication-Results"])
        downloaded = j.curl("-f", j.base + j.download_path(got[0]["blobId"], "m.eml", "message/rfc822"))
        self.assertEqual(downloaded, raw)
        self.assertTrue(dkim.verify(downloaded, dnsfunc=self.dnsfunc))

    def test_arc_sealed_message_is_reported(self):
        # A mailing list at sender.test sealed it (dkimpy); refmail validates the chain.
        msg = (b"Authentication-Results: sender.test; spf=pass smtp.mailfrom=x@elsewhere.test\r\n"
               b"From: Alice <alice@sender.test>\r\nTo: bob@example.test\r\nSubject: arc-1\r\n\r\nvia a list\r\n")
        sealed = b"".join(dkim.arc_sign(msg, b"sel", b"sender.test", self.key, b"sender.test",
                                        include_headers=[b"from", b"to", b"subject"])) + msg
        self.send("alice@sender.test", sealed)
        tampered = sealed.replace(b"via a list", b"via a list!").replace(b"arc-1", b"arc-2")
        self.send("alice@sender.test", tampered)
        m = self.imap()
        try:
            raw1, _ = self.fetch(m, "INBOX", "arc-1")
            raw2, _ = self.fetch(m, "INBOX", "arc-2")
        finally:
            m.logout()
        head1 = raw1[:raw1.index(b"\r\nReceived: ")]
        self.assertIn(b"\r\n\tarc=pass (i=1 d=sender.test);\r\n", head1)
        head2 = raw2[:raw2.index(b"\r\nReceived: ")]
        self.assertIn(b"\tarc=fail (ARC-Message-Signature 1: ", head2)

    def test_quarantine_goes_to_junk_and_forged_results_are_removed(self):
        m = self.imap()
        try:
            m.create("Junk")
            msg = (b"Authentication-Results: mx.example.test; dkim=pass header.d=q.test; dmarc=pass\r\n"
                   b"Authentication-Results: mx.elsewhere.test; spf=pass smtp.mailfrom=q.test\r\n"
                   b"From: The CEO <ceo@q.test>\r\nTo: bob@example.test\r\nSubject: wire-1\r\n\r\nPay now.\r\n")
            self.send("ceo@q.test", msg)
            self.assertIsNone(self.fetch(m, "INBOX", "wire-1"))
            raw, flags = self.fetch(m, "Junk", "wire-1")
        finally:
            m.logout()
        self.assertIn(b"$junk", flags.lower())
        self.assertTrue(raw.startswith(b"Authentication-Results: mx.example.test;\r\n\tiprev=pass"
                                       b" policy.iprev=127.0.0.1 (out.sender.test);\r\n\tspf=fail"), raw[:400])
        self.assertIn(b"dmarc=fail (p=quarantine dis=quarantine) header.from=q.test", raw)
        # The field claiming our name came from outside: removed; the foreign one kept.
        self.assertNotIn(b"mx.example.test; dkim=pass", raw)
        self.assertEqual(raw.count(b"Authentication-Results: mx.example.test;"), 1)
        self.assertIn(b"Authentication-Results: mx.elsewhere.test; spf=pass smtp.mailfrom=q.test\r\n", raw)
        self.assertTrue(raw.endswith(msg[msg.index(b"Authentication-Results: mx.elsewhere.test"):]))

    def test_dmarc_reject_is_refused_and_nothing_stored(self):
        msg = b"From: ceo@r.test\r\nTo: bob@example.test\r\nSubject: wire-2\r\n\r\nPay now.\r\n"
        with self.assertRaises(smtplib.SMTPDataError) as e:
            self.send("ceo@r.test", msg)
        self.assertEqual(e.exception.smtp_code, 550)
        self.assertIn(b"5.7.1", e.exception.smtp_error)
        m = self.imap()
        try:
            m.create("Junk")
            self.assertIsNone(self.fetch(m, "INBOX", "wire-2"))
            self.assertIsNone(self.fetch(m, "Junk", "wire-2"))
        finally:
            m.logout()


if __name__ == "__main__":
    main()

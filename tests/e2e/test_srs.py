#!/usr/bin/env python3
"""tests/e2e/test_srs.py — forwarding that stays valid (issue 18): an alias whose target is
in another domain forwards mail from the world with an SRS0 envelope sender at refmail's
domain (the foreign MX, tests/e2e/test_relay.py's Peer found through nsd, sees it), and a
bounce sent back to that address is delivered to the original sender; an SRS address with
a wrong hash is refused at RCPT. And the byte-exact claim end to end: a message with an
attachment that its sender signed (dkimpy) is received, split and stored, downloaded raw
over JMAP by a local recipient and forwarded to the foreign MX, and dkimpy verifies the
sender's signature at every step."""
import os
import smtplib
import unittest

from harness import JmapClient, main, with_attachment, dkimpy
from test_inbound_auth import rsa_key
from test_relay import ForeignMx

dkim = dkimpy()


class SrsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fx = ForeignMx()
        cls.peer, cls.d = cls.fx.peer, cls.fx.d
        cls.d.add_user("bob@example.test", "bob-pw")
        cls.d.add_user("erin@example.test", "erin-pw")
        cls.d.ctl("alias", "add", "fwd@example.test", "carol@remote.test")

    @classmethod
    def tearDownClass(cls):
        cls.fx.close()

    def mx(self):
        s = smtplib.SMTP("127.0.0.1", self.d.ports["smtp"], timeout=30)
        s.ehlo("mail.origin.test")
        return s

    def test_forward_rewrites_and_bounce_returns(self):
        before = len(self.peer.messages)
        with self.mx() as s:
            s.sendmail("dave@origin.test", ["fwd@example.test"],
                       b"From: dave@origin.test\r\nTo: fwd@example.test\r\nSubject: forwarded\r\n\r\nhello\r\n")
        msgs = self.peer.wait(before + 1)
        self.assertGreater(len(msgs), before, self.d.tail())
        mail_from, rcpts, data, _, _ = msgs[before]
        self.assertEqual(rcpts, ["carol@remote.test"])
        local, _, domain = mail_from.rpartition("@")
        self.assertEqual(domain, "example.test", mail_from)
        self.assertTrue(local.startswith("SRS0=") and local.endswith("=origin.test=dave"), mail_from)
        self.assertIn(b"Subject: forwarded", data)

        # The next hop bounces to the SRS address: it reaches dave, with a null sender.
        with self.mx() as s:
            s.sendmail("", [mail_from], b"From: MAILER-DAEMON@remote.test\r\nSubject: Undelivered\r\n\r\nbounce\r\n")
        msgs = self.peer.wait(before + 2)
        self.assertGreater(len(msgs), before + 1, self.d.tail())
        b_from, b_rcpts, b_data, _, _ = msgs[before + 1]
        self.assertEqual((b_from, b_rcpts), ("", ["dave@origin.test"]))
        self.assertIn(b"Subject: Undelivered", b_data)

        # A forged or altered SRS address names no mailbox: no relay through it.
        forged = "SRS0=AAAA" + local[9:] if not local.startswith("SRS0=AAAA") else "SRS0=BBBB" + local[9:]
        with self.mx() as s:
            s.mail("")
            code, _ = s.rcpt(forged + "@example.test")
            self.assertEqual(code, 550)
            code, _ = s.rcpt(local.replace("=dave", "=eve") + "@example.test")
            self.assertEqual(code, 550)

    def test_signed_message_verifies_stored_downloaded_and_forwarded(self):
        key, record = rsa_key()

        def dnsfunc(name, timeout=5):
            self.assertEqual(name.rstrip(b"."), b"sel._domainkey.origin.test")
            return record.encode()
        msg = with_attachment("signed-forward", os.urandom(200000), "fwd@example.test, erin@example.test",
                              frm="Dave <dave@origin.test>")
        signed = dkim.sign(msg, b"sel", b"origin.test", key, canonicalize=(b"relaxed", b"relaxed"),
                           include_headers=[b"from", b"to", b"subject", b"mime-version", b"content-type"]) + msg
        self.assertTrue(dkim.verify(signed, dnsfunc=dnsfunc))
        before = len(self.peer.messages)
        with self.mx() as s:
            s.sendmail("dave@origin.test", ["fwd@example.test", "erin@example.test"], signed)
        # Stored and downloaded raw: the sent bytes under our trace header, still valid.
        j = JmapClient(self.d.ports["http"], "erin@example.test", "erin-pw")
        r = j.call(["Email/query", {"accountId": j.account, "filter": {"subject": "signed-forward"}}, "q"],
                   ["Email/get", {"accountId": j.account, "properties": ["blobId", "hasAttachment"],
                                  "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"}}, "g"])
        got = r[1][1]["list"]
        self.assertEqual(len(got), 1, r)
        self.assertTrue(got[0]["hasAttachment"])
        raw = j.curl("-f", j.base + j.download_path(got[0]["blobId"], "m.eml", "message/rfc822"))
        self.assertTrue(raw.endswith(signed))
        self.assertTrue(dkim.verify(raw, dnsfunc=dnsfunc))
        # Forwarded to the foreign MX (SRS sender): the same bytes, still valid.
        msgs = self.peer.wait(before + 1)
        self.assertGreater(len(msgs), before, self.d.tail())
        mail_from, rcpts, relayed, _, _ = msgs[before]
        self.assertEqual(rcpts, ["carol@remote.test"])
        self.assertTrue(mail_from.startswith("SRS0="), mail_from)
        self.assertTrue(relayed.endswith(signed))
        self.assertTrue(dkim.verify(relayed, dnsfunc=dnsfunc))

    def test_local_senders_are_not_rewritten(self):
        # A sender of our own domain keeps its address: SPF at the next hop lists us.
        before = len(self.peer.messages)
        with self.mx() as s:
            s.sendmail("bob@example.test", ["fwd@example.test"],
                       b"From: bob@example.test\r\nTo: fwd@example.test\r\nSubject: local\r\n\r\nhi\r\n")
        msgs = self.peer.wait(before + 1)
        self.assertGreater(len(msgs), before, self.d.tail())
        self.assertEqual(msgs[before][0], "bob@example.test")


if __name__ == "__main__":
    main()

"""End-to-end: a message COMPOSED in refmail leaves for a foreign domain as valid MIME.
JMAP upload of an attachment -> Email/set create in Drafts referencing the blobId (with a
Bcc recipient) -> EmailSubmission/set to recipients in a foreign domain, whose MX is found
through the test's DNS responder and played by a Python SMTP peer. Checks: the peer gets
one transaction for both recipients (To + Bcc, same domain), the bytes parse with Python's
email package (policy=default) without defects, the decoded attachment equals the uploaded
bytes, the text body is there, no Bcc header (nor the Bcc address) appears anywhere in the
headers, the queue drains, and the submission wakes the relay worker at once. The DNS responder, SMTP peer and JMAP client are the ones
of test_relay.py and harness.py (imported, not copied)."""
import email, email.policy, json, random, shutil, time, unittest

import test_relay as relay
from harness import Daemon, JmapClient, main


@unittest.skipUnless(shutil.which("curl"), "curl is not installed")  # JmapClient.curl downloads with it
class ComposedRelay(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.peer = relay.Peer()
        cls.dns = relay.DnsResponder(mx={"remote.test": [(10, "mx.remote.test")]},
                                     a={"mx.remote.test": ["127.0.0.1"]})
        cls.d = Daemon(extra_toml=relay.RELAY_BASE + f'dns_servers = ["127.0.0.1:{cls.dns.port}"]\n'
                                                     f"mx_port = {cls.peer.port}\n")
        try:
            cls.d.add_user("alice@example.test", "alice-pw-1")
            cls.a = JmapClient(cls.d.ports["http"], "alice@example.test", "alice-pw-1")
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.peer.close()
        cls.dns.close()

    def upload(self, data, type_):
        up = self.a.session["uploadUrl"].replace("{accountId}", self.a.account)
        st, body, _ = self.a.request("POST", up, data, {"Content-Type": type_})
        self.assertEqual(st, 201, body)
        return json.loads(body)["blobId"]

    def compose_and_send(self, subject, text, attachments, to, bcc):
        boxes = self.a.mailboxes()
        draft = {"mailboxIds": {boxes["drafts"]: True}, "keywords": {"$draft": True},
                 "from": [{"email": "alice@example.test", "name": "Alice"}],
                 "to": [{"email": x} for x in to], "bcc": [{"email": x} for x in bcc],
                 "subject": subject, "textBody": [{"partId": "t", "type": "text/plain"}],
                 "bodyValues": {"t": {"value": text}},
                 "attachments": [{"blobId": b, "type": t, "name": n} for b, t, n in attachments]}
        r = self.a.call(
            ["Email/set", {"accountId": self.a.account, "create": {"k1": draft}}, "c"],
            ["EmailSubmission/set", {"accountId": self.a.account,
                                     "create": {"s1": {"emailId": "#k1", "identityId": "I0"}},
                                     "onSuccessUpdateEmail": {"#s1": {f"mailboxIds/{boxes['drafts']}": None,
                                                                      f"mailboxIds/{boxes['sent']}": True,
                                                                      "keywords/$draft": None}}}, "s"])
        self.assertIn("k1", r[0][1].get("created") or {}, r)
        self.assertIn("s1", r[1][1].get("created") or {}, r)
        return r

    def test_composed_message_arrives_as_valid_mime(self):
        payload = random.Random(71).randbytes(200 * 1024 + 3)  # not a multiple of 3/57: padding, short last line
        pdf = b"%PDF-1.4\n" + random.Random(72).randbytes(40 * 1024)
        blob = self.upload(payload, "application/octet-stream")
        blob2 = self.upload(pdf, "application/pdf")
        text = "Hello Bob,\n\nthe figures are attached.\n-- \nAlice"
        before = len(self.peer.messages)
        self.compose_and_send("Composed über relay", text,
                              [(blob, "application/octet-stream", "data.bin"),
                               (blob2, "application/pdf", "Bericht März.pdf")],
                              to=["bob@remote.test"], bcc=["hidden@remote.test"])
        msgs = self.peer.wait(before + 1, timeout=40)
        self.assertGreater(len(msgs), before, self.d.tail(40))
        frm, rcpts, raw, _, _ = msgs[before]
        self.assertEqual(frm, "alice@example.test")
        self.assertEqual(sorted(rcpts), ["bob@remote.test", "hidden@remote.test"])

        # One Received: line for the relay hop, then a message that parses without defects.
        relay_line, rest = relay.strip_received(raw)
        self.assertIn(b"(refmail relay)", relay_line)
        self.assertTrue(raw.endswith(b"\r\n"))
        self.assertTrue(all(len(l) <= 998 for l in raw.split(b"\r\n")), "line over 998 octets (RFC 5322 2.1.1)")
        self.assertNotIn(b"\n", raw.replace(b"\r\n", b""), "bare LF in the relayed bytes")
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        defects = [(p.get_content_type(), p.defects) for p in msg.walk() if p.defects]
        self.assertEqual(defects, [], raw[:2000])

        # Headers: From/To/Subject/Date/Message-ID/MIME-Version; no Bcc anywhere.
        self.assertEqual(msg["From"].addresses[0].addr_spec, "alice@example.test")
        self.assertEqual([a.addr_spec for a in msg["To"].addresses], ["bob@remote.test"])
        self.assertEqual(str(msg["Subject"]), "Composed über relay")
        self.assertIsNotNone(msg["Date"])
        self.assertIsNotNone(msg["Message-ID"])
        self.assertEqual(str(msg["MIME-Version"]).strip(), "1.0")
        self.assertIsNone(msg["Bcc"])
        header_block = raw.split(b"\r\n\r\n", 1)[0].lower()
        self.assertNotIn(b"\nbcc:", header_block)
        self.assertNotIn(b"hidden@remote.test", raw.lower())

        # Body and attachments: decoded bytes equal the uploads.
        self.assertTrue(msg.is_multipart())
        body = msg.get_body(preferencelist=("plain",))
        self.assertIsNotNone(body)
        self.assertEqual(body.get_content().replace("\r\n", "\n").rstrip("\n"), text)
        atts = {p.get_filename(): p for p in msg.iter_attachments()}
        self.assertEqual(sorted(atts), ["Bericht März.pdf", "data.bin"], raw[:3000])
        self.assertEqual(atts["data.bin"].get_content_type(), "application/octet-stream")
        self.assertEqual(atts["data.bin"].get_payload(decode=True), payload)
        self.assertEqual(atts["Bericht März.pdf"].get_content_type(), "application/pdf")
        self.assertEqual(atts["Bericht März.pdf"].get_payload(decode=True), pdf)

        self.assertTrue(relay.wait_until(lambda: not relay.queue(self.d), 30), relay.queue(self.d))
        self.assertIsNone(self.d.proc.poll())

    # Regression: EmailSubmission/set used to commit the queue row without waking the relay
    # worker, so a composed message waited for the idle wake-up (15 s) where an SMTP
    # submission leaves within ~0.5 s (fixed in ba4f90c).
    def test_submission_wakes_the_relay_promptly(self):
        blob = self.upload(b"prompt " * 100, "text/plain")
        before = len(self.peer.messages)
        t0 = time.time()
        self.compose_and_send("prompt", "soon", [(blob, "text/plain", "p.txt")], to=["carl@remote.test"], bcc=[])
        msgs = self.peer.wait(before + 1, timeout=40)
        elapsed = time.time() - t0
        self.assertGreater(len(msgs), before, self.d.tail(40))
        self.assertLess(elapsed, 5.0, f"composed message left after {elapsed:.1f} s")


if __name__ == "__main__":
    main()

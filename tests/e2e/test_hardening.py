"""End-to-end: hostile message bytes over SMTP against the real refmaild (hardening
issue items 0 and 3). A Content-Type value ending inside a comment with a backslash
(`(\\`, `((a\\`) once aborted the daemon with an uncaught std::out_of_range: it is
accepted and the daemon keeps serving. Raw latin1 bytes in From, To, Reply-To,
Message-ID, In-Reply-To, References, Subject and an attachment name reach JMAP
Email/get as strictly valid UTF-8 (U+FFFD or decoded), never as raw bytes."""
import json, smtplib, unittest, urllib.request
from harness import Daemon, JmapClient, main

LATIN1 = (b"From: J\xe9r\xf4me <j\xe9r@ex\xe4mple.org>\r\nTo: M\xfcller <alice@example.test>\r\n"
          b"Reply-To: <r\xe9@d.example>\r\nSubject: Caf\xe9\r\nMessage-ID: <id\xe9@x>\r\n"
          b"In-Reply-To: <p\xe9@x>\r\nReferences: <a\xe9@x> <b@x>\r\nMIME-Version: 1.0\r\n"
          b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
          b"hi\r\n--b\r\nContent-Type: application/octet-stream; name=\"r\xe9sum\xe9.pdf\"\r\n"
          b"Content-Disposition: attachment; filename=\"r\xe9sum\xe9.pdf\"\r\n\r\nxyz\r\n--b--\r\n")


class Hardening(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon()
        cls.d.add_user("alice@example.test", "alice-pw-1")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def send(self, data):
        s = smtplib.SMTP("127.0.0.1", self.d.ports["smtp"], timeout=30)
        s.sendmail("sender@outside.test", ["alice@example.test"], data)
        s.quit()

    def test_1_comment_ending_in_backslash_does_not_abort(self):
        for value in (b"(\\", b"((a\\"):
            msg = b"Content-Type: " + value + b"\r\n\r\nbody\r\n"
            self.send(msg)
            self.assertIsNone(self.d.proc.poll(), self.d.tail())
        self.assertEqual(len(b"Content-Type: (\\\r\n\r\nbody\r\n"), 26)
        s = smtplib.SMTP("127.0.0.1", self.d.ports["smtp"], timeout=30)
        self.assertEqual(s.noop()[0], 250)
        s.quit()

    def test_2_raw_latin1_headers_give_valid_utf8_json(self):
        self.send(LATIN1)
        c = JmapClient(self.d.ports["http"], "alice@example.test", "alice-pw-1")
        body = json.dumps({"using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"],
                           "methodCalls": [
                               ["Email/query", {"accountId": c.account}, "q"],
                               ["Email/get", {"accountId": c.account, "fetchAllBodyValues": True,
                                              "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"}},
                                "g"]]}).encode()
        st, data, _ = c.request("POST", "/jmap/api", body, {"Content-Type": "application/json"})
        self.assertEqual(st, 200, data[:300])
        text = data.decode("utf-8", errors="strict")  # a strict client: raises on invalid UTF-8
        emails = json.loads(text)["methodResponses"][1][1]["list"]
        self.assertEqual(len(emails), 3)
        latin = [e for e in emails if e.get("attachments")]
        self.assertEqual(len(latin), 1)
        e = latin[0]
        self.assertEqual(e["messageId"], ["id\ufffd@x"])
        self.assertEqual(e["inReplyTo"], ["p\ufffd@x"])
        self.assertEqual(e["references"], ["a\ufffd@x", "b@x"])
        self.assertEqual(e["from"][0]["email"], "j\ufffdr@ex\ufffdmple.org")
        self.assertEqual(e["replyTo"][0]["email"], "r\ufffd@d.example")
        self.assertIn("sum", e["attachments"][0]["name"])


if __name__ == "__main__":
    main()

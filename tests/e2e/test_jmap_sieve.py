#!/usr/bin/env python3
"""tests/e2e/test_jmap_sieve.py — JMAP for Sieve Scripts (RFC 9661) against the real
refmaild: the session capability, a script uploaded and created with SieveScript/set and
activated in the same call, read back byte for byte through the download URL, a script
with a syntax error refused with line:column (create and /validate), destroy refused
while active, deactivate then destroy, and a message delivered over SMTP filed by the
script activated over JMAP (checked over JMAP and IMAP)."""
import imaplib
import json
import smtplib
import unittest

from harness import Daemon, JmapClient, main

SIEVE = "urn:ietf:params:jmap:sieve"
USING = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail", SIEVE]

SCRIPT = (b'require ["fileinto", "mailbox"];\r\n'
          b'# filed over JMAP \xc3\xa9\r\n'
          b'if header :contains "subject" "invoice" {\r\n'
          b'  fileinto :create "Billing";\r\n'
          b'}\r\n')


def call(c, *calls):
    body = json.dumps({"using": USING, "methodCalls": [list(x) for x in calls]}).encode()
    st, data, _ = c.request("POST", "/jmap/api", body, {"Content-Type": "application/json"})
    assert st == 200, (st, data[:300])
    return json.loads(data)["methodResponses"]


def upload(c, data):
    st, body, _ = c.upload(data, "application/sieve")
    assert st == 201, (st, body)
    return json.loads(body)["blobId"]


class JmapSieve(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(extra_toml="\n[smtp]\nplain_auth_on_loopback = true\n")  # IMAP LOGIN without TLS
        cls.d.add_user("alice@example.test", "alice-pw-1")
        cls.d.add_user("bob@example.test", "bob-pw-1")
        cls.c = JmapClient(cls.d.ports["http"], "alice@example.test", "alice-pw-1")
        cls.bob = JmapClient(cls.d.ports["http"], "bob@example.test", "bob-pw-1")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def set(self, args):
        args = {"accountId": self.c.account, **args}
        r = call(self.c, ["SieveScript/set", args, "s"])
        self.assertEqual(r[0][0], "SieveScript/set", r)
        return r[0][1]

    def test_1_capability(self):
        s = self.c.session
        self.assertIn(SIEVE, s["capabilities"])
        caps = s["accounts"][self.c.account]["accountCapabilities"][SIEVE]
        self.assertEqual(caps["implementation"], "refmail")
        self.assertEqual(caps["maxSizeScriptName"], 128)
        self.assertIn("fileinto", caps["sieveExtensions"])
        self.assertNotIn("editheader", caps["sieveExtensions"])

    def test_2_create_activate_download_and_filter(self):
        blob = upload(self.c, SCRIPT)
        r = self.set({"create": {"f": {"name": "filters", "blobId": blob}}, "onSuccessActivateScript": "#f"})
        self.assertIsNotNone(r["created"], r)
        created = r["created"]["f"]
        self.assertTrue(created["isActive"])
        sid = created["id"]
        g = call(self.c, ["SieveScript/get", {"accountId": self.c.account, "ids": [sid]}, "g"])[0][1]
        script = g["list"][0]
        self.assertEqual(script["name"], "filters")
        self.assertTrue(script["isActive"])
        # Byte for byte through the download URL (curl, as a client would).
        got = self.c.curl("http://127.0.0.1:%d%s" % (self.d.ports["http"],
                                                      self.c.download_path(script["blobId"], "filters.sieve",
                                                                           "application/sieve")))
        self.assertEqual(got, SCRIPT)
        # Bob cannot read it.
        st, _, _ = self.bob.request("GET", self.bob.download_path(script["blobId"]).replace(
            self.bob.account, self.c.account))
        self.assertEqual(st, 404)

        # Delivery runs the script activated over JMAP.
        with smtplib.SMTP("127.0.0.1", self.d.ports["smtp"], timeout=30) as s:
            for subject in ("invoice 7", "hello"):
                s.sendmail("sender@outside.test", ["alice@example.test"],
                           (f"From: sender@outside.test\r\nTo: alice@example.test\r\nSubject: {subject}\r\n"
                            f"Message-ID: <{subject.replace(' ', '-')}@outside.test>\r\n\r\nHi.\r\n").encode())
        boxes = self.c.mailboxes()
        self.assertIn("Billing", boxes)
        q = self.c.call(["Email/query", {"accountId": self.c.account, "filter": {"inMailbox": boxes["Billing"]}}, "q"],
                        ["Email/get", {"accountId": self.c.account, "properties": ["subject"],
                                       "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"}}, "g"])
        self.assertEqual([e["subject"] for e in q[1][1]["list"]], ["invoice 7"])
        m = imaplib.IMAP4("127.0.0.1", self.d.ports["imap"], timeout=30)
        m.login("alice@example.test", "alice-pw-1")
        try:
            typ, data = m.select("INBOX")
            self.assertEqual(typ, "OK")
            typ, data = m.search(None, "SUBJECT", '"invoice 7"')
            self.assertEqual(data[0], b"")  # filed, not kept in INBOX
            typ, data = m.search(None, "SUBJECT", "hello")
            self.assertNotEqual(data[0], b"")
        finally:
            m.logout()

    def test_3_syntax_error_refused_with_line_column(self):
        blob = upload(self.c, b'require "fileinto";\r\nif header :is "subject" "x" {\r\n  fileint "X";\r\n}\r\n')
        r = self.set({"create": {"bad": {"name": "bad", "blobId": blob}}})
        err = r["notCreated"]["bad"]
        self.assertEqual(err["type"], "invalidSieve")
        self.assertRegex(err["description"], r"^3:\d+: ")
        v = call(self.c, ["SieveScript/validate", {"accountId": self.c.account, "blobId": blob}, "v"])[0][1]
        self.assertEqual(v["error"]["type"], "invalidSieve")
        self.assertRegex(v["error"]["description"], r"^3:\d+: ")
        v = call(self.c, ["SieveScript/validate", {"accountId": self.c.account,
                                                    "blobId": upload(self.c, b"keep;\r\n")}, "v"])[0][1]
        self.assertIsNone(v["error"])

    def test_4_destroy_refused_while_active_then_deactivate_and_destroy(self):
        r = self.set({"create": {"t": {"name": "temp", "blobId": upload(self.c, b"keep;\r\n")}},
                      "onSuccessActivateScript": "#t"})
        tid = r["created"]["t"]["id"]
        r = self.set({"destroy": [tid]})
        self.assertEqual(r["notDestroyed"][tid]["type"], "sieveIsActive")
        r = self.set({"onSuccessDeactivateScript": True})
        self.assertFalse(r["updated"][tid]["isActive"])
        r = self.set({"destroy": [tid]})
        self.assertEqual(r["destroyed"], [tid])
        q = call(self.c, ["SieveScript/query", {"accountId": self.c.account, "filter": {"isActive": True}}, "q"])
        self.assertEqual(q[0][1]["ids"], [])


if __name__ == "__main__":
    main()

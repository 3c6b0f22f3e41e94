"""End-to-end: the per-account change log, threads and persistent cookie sessions
through the real refmaild. A message received over SMTP shows up in Email/changes as
created; $seen makes it updated (and Mailbox/changes a counts-only update); a reply
shares its parent's thread (Thread/get); destroying it shows it destroyed; a cookie
session and the change log both survive a restart of refmaild."""
import json, smtplib, unittest, urllib.request
from harness import Daemon, JmapClient, http_request, main


def plain(msgid, subject, in_reply_to=None):
    extra = f"In-Reply-To: <{in_reply_to}>\r\nReferences: <{in_reply_to}>\r\n" if in_reply_to else ""
    return (f"From: sender@outside.test\r\nTo: alice@example.test\r\nSubject: {subject}\r\n"
            f"Message-ID: <{msgid}>\r\n{extra}\r\nhello\r\n").encode()


def cookie_request(port, method, path, cookie, body=None, headers=None):
    return http_request(f"http://127.0.0.1:{port}{path}", method, body, {"Cookie": cookie, **(headers or {})})


class JmapChanges(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon()
        cls.d.add_user("alice@example.test", "alice-pw-1")
        cls.a = JmapClient(cls.d.ports["http"], "alice@example.test", "alice-pw-1")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def send(self, msg):
        s = smtplib.SMTP("127.0.0.1", self.d.ports["smtp"], timeout=30)
        s.sendmail("sender@outside.test", ["alice@example.test"], msg)
        s.quit()

    def state(self):
        return self.a.call(["Email/get", {"accountId": self.a.account, "ids": []}, "g"])[0][1]["state"]

    def changes(self, method, since, **extra):
        r = self.a.call([method, {"accountId": self.a.account, "sinceState": since, **extra}, "c"])[0]
        self.assertEqual(r[0], method, r)
        return r[1]

    def email_by_subject(self, subject):
        r = self.a.call(["Email/query", {"accountId": self.a.account, "filter": {"subject": subject}}, "q"],
                        ["Email/get", {"accountId": self.a.account, "properties": ["threadId", "subject"],
                                       "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"}}, "g"])
        return r[1][1]["list"]

    def test_changes_threads_and_restart(self):
        s0 = self.state()
        self.send(plain("root@outside.test", "plan"))
        root = self.email_by_subject("plan")[0]
        c = self.changes("Email/changes", s0)
        self.assertEqual(c["created"], [root["id"]])
        self.assertEqual(c["newState"], self.state())

        # $seen: the email is updated, its mailbox's counts too.
        s1 = self.state()
        r = self.a.call(["Email/set", {"accountId": self.a.account,
                                       "update": {root["id"]: {"keywords/$seen": True}}}, "s"])
        self.assertIn(root["id"], r[0][1]["updated"])
        c = self.changes("Email/changes", s1)
        self.assertEqual((c["created"], c["updated"], c["destroyed"]), ([], [root["id"]], []))
        m = self.changes("Mailbox/changes", s1)
        self.assertEqual(m["updated"], [self.a.mailboxes()["inbox"]])
        self.assertIn("unreadEmails", m["updatedProperties"])

        # A reply (In-Reply-To/References) joins the thread.
        s2 = self.state()
        self.send(plain("reply@outside.test", "Re: plan", in_reply_to="root@outside.test"))
        reply = self.email_by_subject("Re: plan")[0]
        self.assertEqual(reply["threadId"], root["threadId"])
        t = self.a.call(["Thread/get", {"accountId": self.a.account, "ids": [root["threadId"]]}, "t"])[0][1]
        self.assertEqual(sorted(t["list"][0]["emailIds"]), sorted([root["id"], reply["id"]]))
        tc = self.changes("Thread/changes", s2)
        self.assertEqual(tc["updated"], [root["threadId"]])

        # Destroy: destroyed; paging with maxChanges walks every change once.
        s3 = self.state()
        r = self.a.call(["Email/set", {"accountId": self.a.account, "destroy": [reply["id"]]}, "d"])
        self.assertEqual(r[0][1]["destroyed"], [reply["id"]])
        c = self.changes("Email/changes", s3)
        self.assertEqual(c["destroyed"], [reply["id"]])
        seen, since, pages = set(), s0, 0
        while True:
            c = self.changes("Email/changes", since, maxChanges=1)
            pages += 1
            seen |= set(c["created"]) | set(c["updated"]) | set(c["destroyed"])
            since = c["newState"]
            if not c["hasMoreChanges"] or pages > 20:
                break
        self.assertEqual(seen, {root["id"], reply["id"]})
        self.assertGreater(pages, 1)
        bad = self.a.call(["Email/changes", {"accountId": self.a.account, "sinceState": "garbage"}, "c"])[0]
        self.assertEqual(bad[0:2], ["error", {"type": "cannotCalculateChanges", "description": bad[1]["description"]}])

        # A cookie session and the log survive a restart.
        port = self.d.ports["http"]
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/login", method="POST",
                                     data=json.dumps({"username": "alice@example.test",
                                                      "password": "alice-pw-1"}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            cookie = resp.headers["Set-Cookie"].split(";")[0]
        s4 = self.state()
        self.assertEqual(self.d.stop(), 0)
        self.d.start()
        st, body, _ = cookie_request(port, "GET", "/.well-known/jmap", cookie)
        self.assertEqual(st, 200, body)
        call = json.dumps({"using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"],
                           "methodCalls": [["Email/changes", {"accountId": self.a.account, "sinceState": s0}, "c"]]})
        st, body, _ = cookie_request(port, "POST", "/jmap/api", cookie, call.encode(),
                                     {"Content-Type": "application/json"})
        self.assertEqual(st, 200, body)
        c = json.loads(body)["methodResponses"][0][1]
        self.assertEqual(c["created"], [root["id"]])
        self.assertEqual(c["destroyed"], [reply["id"]])
        self.assertEqual(c["newState"], s4)
        self.assertEqual(self.state(), s4)
        st, _, _ = cookie_request(port, "GET", "/.well-known/jmap", "refmail_session=" + "0" * 64)
        self.assertEqual(st, 401)
        self.d.ctl("fsck")


if __name__ == "__main__":
    main()

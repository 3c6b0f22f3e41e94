#!/usr/bin/env python3
"""tests/e2e/test_vacation.py — JMAP VacationResponse (RFC 8621 8) and the replies it
makes at delivery (issue 20: the JMAP object compiled into the Sieve vacation action):
the capability and the singleton's defaults; /set updates with state and ifInState,
create and destroy refused as "singleton", bad values refused as invalidProperties;
mail from a foreign sender (the relay's peer is that sender's MX, found through a real
authoritative DNS server) gets exactly one reply within the period, as a
multipart/alternative quoted-printable message, never to list mail; it replies beside an
active Sieve script that files the message, not when the script discards it, not before
fromDate, and not once switched off; and mail a colleague sends from the webmail (JMAP
EmailSubmission) meets the same Sieve rules and vacation reply as mail from the world; a
reply to an address that bounces is dropped by the relay (null reverse-path: no bounce of
a bounce), nothing else is lost. And the admin's view: `refmailctl sieve` lists, shows,
stores (checked: a broken script is refused with line:column), activates, deactivates
and deletes a user's scripts; `refmailctl vacation` shows the reply and turns it off."""
import email
import email.policy
import json
import os
import tempfile
import smtplib
import time
import unittest

from harness import JmapClient, main
from test_relay import ForeignMx

VACATION = "urn:ietf:params:jmap:vacationresponse"
USING = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail", "urn:ietf:params:jmap:sieve", VACATION]
USERS = {"bob@example.test": "bob-pw-1", "alice@example.test": "alice-pw-1"}


def call(c, *calls):
    body = json.dumps({"using": USING, "methodCalls": [list(x) for x in calls]}).encode()
    st, data, _ = c.request("POST", "/jmap/api", body, {"Content-Type": "application/json"})
    assert st == 200, (st, data[:300])
    return json.loads(data)["methodResponses"]


def send(d, sender, subject, extra=b""):
    msg = (b"From: <" + sender.encode() + b">\r\nTo: Bob <bob@example.test>\r\nSubject: " + subject.encode() +
           b"\r\nMessage-ID: <" + subject.replace(" ", "-").encode() + b"@origin.test>\r\n" + extra +
           b"\r\nHello Bob.\r\n")
    with smtplib.SMTP("127.0.0.1", d.ports["smtp"], timeout=60) as s:
        s.ehlo("mail.origin.test")
        s.sendmail(sender, ["bob@example.test"], msg)


class VacationResponse(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fx = ForeignMx()
        cls.peer, cls.d = cls.fx.peer, cls.fx.d
        for u, p in USERS.items():
            cls.d.add_user(u, p)
        cls.c = JmapClient(cls.d.ports["http"], "bob@example.test", USERS["bob@example.test"])
        cls.alice = JmapClient(cls.d.ports["http"], "alice@example.test", USERS["alice@example.test"])

    @classmethod
    def tearDownClass(cls):
        cls.fx.close()

    def get(self):
        r = call(self.c, ["VacationResponse/get", {"accountId": self.c.account}, "g"])[0]
        self.assertEqual(r[0], "VacationResponse/get", r)
        return r[1]

    def set(self, patch, **extra):
        r = call(self.c, ["VacationResponse/set",
                          {"accountId": self.c.account, "update": {"singleton": patch}, **extra}, "s"])[0]
        self.assertEqual(r[0], "VacationResponse/set", r)
        return r[1]

    def replies(self, before, expect, wait=3):
        """The peer's messages after `before`, waiting for `expect` of them, then `wait`
        seconds more so that a reply queued later would be seen too."""
        self.peer.wait(before + expect)
        time.sleep(wait)
        return self.peer.messages[before:]

    def test_1_capability_and_defaults(self):
        s = self.c.session
        self.assertIn(VACATION, s["capabilities"])
        self.assertIn(VACATION, s["accounts"][self.c.account]["accountCapabilities"])
        self.assertEqual(s["primaryAccounts"][VACATION], self.c.account)
        g = self.get()
        self.assertEqual(g["list"], [{"id": "singleton", "isEnabled": False, "fromDate": None, "toDate": None,
                                      "subject": None, "textBody": None, "htmlBody": None}])
        self.assertEqual(g["notFound"], [])
        r = call(self.c, ["VacationResponse/get", {"accountId": self.c.account, "ids": ["other", "singleton"],
                                                   "properties": ["isEnabled"]}, "g"])[0][1]
        self.assertEqual(r["list"], [{"id": "singleton", "isEnabled": False}])
        self.assertEqual(r["notFound"], ["other"])

    def test_2_set_rules(self):
        state = self.get()["state"]
        r = call(self.c, ["VacationResponse/set", {"accountId": self.c.account, "create": {"x": {"isEnabled": True}},
                                                   "destroy": ["singleton"]}, "s"])[0][1]
        self.assertEqual(r["notCreated"]["x"]["type"], "singleton")
        self.assertEqual(r["notDestroyed"]["singleton"]["type"], "singleton")
        self.assertEqual(r["newState"], state)
        r = self.set({"fromDate": "next week"})
        self.assertEqual(r["notUpdated"]["singleton"]["type"], "invalidProperties")
        self.assertEqual(r["notUpdated"]["singleton"]["properties"], ["fromDate"])
        r = self.set({"color": "blue"})
        self.assertEqual(r["notUpdated"]["singleton"]["properties"], ["color"])
        r = self.set({"textBody": "x" * (300 << 10)})
        self.assertEqual(r["notUpdated"]["singleton"]["properties"], ["textBody"])
        r = call(self.c, ["VacationResponse/set", {"accountId": self.c.account, "ifInState": state + "9",
                                                   "update": {"singleton": {"isEnabled": True}}}, "s"])[0]
        self.assertEqual(r, ["error", {"type": "stateMismatch"}, "s"])
        r = self.set({"subject": "Away", "textBody": "Back soon."}, ifInState=state)
        self.assertEqual(r["updated"], {"singleton": None})
        self.assertNotEqual(r["newState"], state)
        g = self.get()
        self.assertEqual(g["state"], r["newState"])
        self.assertEqual((g["list"][0]["subject"], g["list"][0]["textBody"], g["list"][0]["isEnabled"]),
                         ("Away", "Back soon.", False))
        self.assertFalse(self.get()["list"][0]["isEnabled"])

    def test_3_replies_once_per_sender_and_never_to_lists(self):
        long_line = "I am away " * 30  # one 300-byte line: quoted-printable keeps it short
        r = self.set({"isEnabled": True, "subject": "Out of office, été", "toDate": "2099-01-01T00:00:00Z",
                      "fromDate": "2020-01-01T00:00:00Z",
                      "textBody": long_line + "\nBack on Monday.", "htmlBody": "<p>Back on <b>Monday</b>.</p>"})
        self.assertEqual(r["updated"], {"singleton": None}, r)
        g = self.get()["list"][0]
        self.assertEqual((g["fromDate"], g["toDate"]), ("2020-01-01T00:00:00Z", "2099-01-01T00:00:00Z"))
        before = len(self.peer.messages)
        send(self.d, "fay@origin.test", "question 1")
        send(self.d, "fay@origin.test", "question 2")
        send(self.d, "news-bounces@origin.test", "digest", b"List-Id: <news.origin.test>\r\n")
        got = self.replies(before, 1)
        self.assertEqual(len(got), 1, (got, self.d.tail()))
        mail_from, rcpts, data, _, _ = got[0]
        self.assertEqual((mail_from, rcpts), ("", ["fay@origin.test"]))
        body = data.split(b"\r\n\r\n", 1)[1]
        self.assertTrue(all(len(line) <= 78 for line in body.split(b"\r\n")), body)
        m = email.message_from_bytes(data, policy=email.policy.default)
        self.assertEqual(str(m["Subject"]), "Out of office, été")
        self.assertEqual(m["Auto-Submitted"], "auto-replied")
        self.assertEqual(m["In-Reply-To"], "<question-1@origin.test>")
        self.assertIn("bob@example.test", str(m["From"]))
        self.assertEqual(m.get_content_type(), "multipart/alternative")
        plain = m.get_body(("plain",)).get_content()
        html = m.get_body(("html",)).get_content()
        self.assertIn(long_line + "\n", plain.replace("\r\n", "\n"))
        self.assertIn("Back on Monday.", plain)
        self.assertIn("<b>Monday</b>", html)

    def test_4_beside_a_sieve_script_and_switched_off(self):
        # A script that files mail by subject: the reply still goes; one that discards: none.
        script = (b'require ["fileinto", "mailbox"];\r\n'
                  b'if header :contains "subject" "invoice" { fileinto :create "Billing"; }\r\n'
                  b'if header :contains "subject" "junkmail" { discard; }\r\n')
        st, body, _ = self.c.upload(script, "application/sieve")
        self.assertEqual(st, 201, body)
        r = call(self.c, ["SieveScript/set", {"accountId": self.c.account, "create": {
            "f": {"name": "rules", "blobId": json.loads(body)["blobId"]}}, "onSuccessActivateScript": "#f"}, "s"])
        self.assertIn("f", r[0][1]["created"], r)
        before = len(self.peer.messages)
        send(self.d, "gus@origin.test", "invoice 7")
        send(self.d, "hal@origin.test", "junkmail offer")
        got = self.replies(before, 1)
        self.assertEqual([g[1] for g in got], [["gus@origin.test"]], self.d.tail())
        # Not yet started (fromDate ahead), then switched off: no reply to new senders.
        self.set({"fromDate": "2098-01-01T00:00:00Z"})
        send(self.d, "ida@origin.test", "question 3")
        self.set({"fromDate": None, "isEnabled": False})
        send(self.d, "joe@origin.test", "question 4")
        got = self.replies(before + 1, 0)
        self.assertEqual(got, [], self.d.tail())

    def test_5_jmap_submission_meets_the_rules_and_the_reply(self):
        self.set({"isEnabled": True, "subject": "Away again", "textBody": "Back later.", "fromDate": None})
        a = self.alice
        boxes = a.mailboxes()
        draft = {"mailboxIds": {boxes["drafts"]: True}, "keywords": {"$draft": True, "$seen": True},
                 "from": [{"email": "alice@example.test"}], "to": [{"email": "bob@example.test"}],
                 "subject": "invoice 9", "messageId": ["invoice-9@example.test"],
                 "textBody": [{"partId": "t", "type": "text/plain"}], "bodyValues": {"t": {"value": "Pay me."}}}
        r = a.call(["Email/set", {"accountId": a.account, "create": {"k": draft}}, "c"],
                   ["EmailSubmission/set", {"accountId": a.account, "create": {"s": {"emailId": "#k"}}}, "s"])
        self.assertIn("s", r[1][1].get("created") or {}, r)

        def subjects(c, role):
            b = c.mailboxes()
            q = c.call(["Email/query", {"accountId": c.account, "filter": {"inMailbox": b[role]}}, "q"],
                       ["Email/get", {"accountId": c.account, "properties": ["subject"],
                                      "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"}}, "g"])
            return sorted(e["subject"] for e in q[1][1]["list"])
        # Bob's script filed it (the Billing folder the script made), and Alice got one
        # reply in her INBOX; a second message gets none.
        deadline = time.time() + 30
        while time.time() < deadline and "Away again" not in subjects(a, "inbox"):
            time.sleep(0.2)
        self.assertEqual(subjects(a, "inbox"), ["Away again"], self.d.tail())
        bob_boxes = self.c.call(["Mailbox/get", {"accountId": self.c.account}, "m"])[0][1]["list"]
        billing = [m["id"] for m in bob_boxes if m["name"] == "Billing"]
        self.assertEqual(len(billing), 1, bob_boxes)
        q = self.c.call(["Email/query", {"accountId": self.c.account, "filter": {"inMailbox": billing[0]}}, "q"],
                        ["Email/get", {"accountId": self.c.account, "properties": ["subject"],
                                       "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"}}, "g"])
        self.assertIn("invoice 9", [e["subject"] for e in q[1][1]["list"]])
        draft["subject"], draft["messageId"] = "invoice 10", ["invoice-10@example.test"]
        r = a.call(["Email/set", {"accountId": a.account, "create": {"k": draft}}, "c"],
                   ["EmailSubmission/set", {"accountId": a.account, "create": {"s": {"emailId": "#k"}}}, "s"])
        self.assertIn("s", r[1][1].get("created") or {}, r)
        time.sleep(2)
        self.assertEqual(subjects(a, "inbox"), ["Away again"])

    def test_6_reply_to_an_address_that_bounces(self):
        self.set({"isEnabled": True, "subject": "Away again", "textBody": "Back later.", "fromDate": None})
        inbox_before = len(self.c.latest(["subject"]))
        send(self.d, "reject-me@origin.test", "question 6")
        # The reply is refused by the sender's MX (550): the queue row goes, and no report
        # is made of it (RFC 5321 4.5.5, RFC 5230 5.1: the reply has a null reverse-path).
        deadline = time.time() + 30
        rows = None
        while time.time() < deadline:
            rows = json.loads(self.d.ctl("queue", "list", "--json").stdout)["queue"]
            if not rows and "vacation bob@example.test -> reject-me@origin.test: sent" in self.d.tail(400):
                break
            time.sleep(0.2)
        self.assertEqual(rows, [], self.d.tail(40))
        self.assertIn("vacation bob@example.test -> reject-me@origin.test: sent", self.d.tail(400))
        time.sleep(2)
        subjects = [e["subject"] for e in self.c.latest(["subject"])]
        self.assertEqual(len(subjects), inbox_before + 1, subjects)  # the message itself, no report
        self.assertIn("question 6", subjects)

    def test_7_admin_commands(self):
        d = self.d
        listed = d.ctl("sieve", "list", "bob@example.test").stdout
        self.assertIn("* rules", listed)
        self.assertIn('fileinto :create "Billing"', d.ctl("sieve", "show", "bob@example.test", "rules").stdout)
        with tempfile.TemporaryDirectory() as tmp:
            good, bad = os.path.join(tmp, "good.sieve"), os.path.join(tmp, "bad.sieve")
            with open(good, "w") as f:
                f.write('require "fileinto";\r\nif header :contains "subject" "memo" { fileinto "Archive"; }\r\n')
            with open(bad, "w") as f:
                f.write('require "fileinto";\r\nfileinto "Archive"\r\n')
            r = d.ctl("sieve", "put", "bob@example.test", "broken", bad, check=False)
            self.assertNotEqual(r.returncode, 0)
            self.assertRegex(r.stdout + r.stderr, r"\d+:\d+")
            d.ctl("sieve", "put", "bob@example.test", "memos", good, "--activate")
        listed = json.loads(d.ctl("sieve", "list", "bob@example.test", "--json").stdout)
        self.assertEqual({s["name"]: s["active"] for s in listed["scripts"]}, {"rules": False, "memos": True})
        send(d, "kim@origin.test", "memo 1")
        deadline = time.time() + 10
        archived = []
        while time.time() < deadline and "memo 1" not in archived:
            boxes = self.c.mailboxes()
            q = self.c.call(["Email/query", {"accountId": self.c.account, "filter": {"inMailbox": boxes["archive"]}}, "q"],
                            ["Email/get", {"accountId": self.c.account, "properties": ["subject"],
                                           "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"}}, "g"])
            archived = [e["subject"] for e in q[1][1]["list"]]
            time.sleep(0.2)
        self.assertIn("memo 1", archived)
        r = d.ctl("sieve", "delete", "bob@example.test", "memos", check=False)
        self.assertNotEqual(r.returncode, 0)  # active: refused
        d.ctl("sieve", "deactivate", "bob@example.test")
        d.ctl("sieve", "delete", "bob@example.test", "memos")
        listed = json.loads(d.ctl("sieve", "list", "bob@example.test", "--json").stdout)
        self.assertEqual([(s["name"], s["active"]) for s in listed["scripts"]], [("rules", False)])
        self.assertIn("vacation reply on", d.ctl("vacation", "show", "bob@example.test").stdout)
        d.ctl("vacation", "off", "bob@example.test")
        self.assertIn("vacation reply off", d.ctl("vacation", "show", "bob@example.test").stdout)
        self.assertFalse(self.get()["list"][0]["isEnabled"])
        r = d.ctl("sieve", "list", "nobody@example.test", check=False)
        self.assertNotEqual(r.returncode, 0)


if __name__ == "__main__":
    main()

"""End-to-end: SMTP submission and JMAP submission are one delivery path (the mail-core
issue). The same message to two foreign domains, sent once by SMTP submission (smtplib,
AUTH) and once by JMAP (Email/set + EmailSubmission/set, moved to Sent on success),
leaves the same relay queue rows (one per destination domain, same MAIL FROM and
recipients; `refmailctl queue list --json`) and the same Sent copy (mailbox, keywords,
subject, recipients). Both accept the user's alias as sender and refuse another user's
address. The relay's DNS server is a port nobody answers on, so the rows stay queued
(a temporary failure) while the test reads them."""
import json, smtplib, unittest
from harness import Daemon, JmapClient, main, closed_udp_port

RCPTS = ["x@one.test", "y@two.test", "z@one.test"]


def message(subject, frm="alice@example.test"):
    return (f"From: {frm}\r\nTo: {', '.join(RCPTS)}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '-')}@example.test>\r\n\r\nhello\r\n").encode()


class DeliveryPaths(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(extra_toml="[smtp]\nplain_auth_on_loopback = true\n"
                                  "[relay]\nretry_schedule = [3600]\ntimeout = 5\n"
                                  f'dns_servers = ["127.0.0.1:{closed_udp_port()}"]\n')
        try:
            cls.d.add_user("alice@example.test", "alice-pw-1")
            cls.d.add_user("bob@example.test", "bob-pw-1")
            cls.d.ctl("alias", "add", "sales@example.test", "alice@example.test")
            cls.a = JmapClient(cls.d.ports["http"], "alice@example.test", "alice-pw-1")
        except Exception:
            cls.d.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def smtp_submit(self, mail_from, subject, frm="alice@example.test"):
        s = smtplib.SMTP("127.0.0.1", self.d.ports["submission"], timeout=30)
        try:
            s.login("alice@example.test", "alice-pw-1")
            s.sendmail(mail_from, RCPTS, message(subject, frm))
        finally:
            s.close()

    def jmap_create(self, subject, frm):
        boxes = self.a.mailboxes()
        draft = {"mailboxIds": {boxes["drafts"]: True}, "keywords": {"$draft": True, "$seen": True},
                 "from": [{"email": frm}], "to": [{"email": x} for x in RCPTS], "subject": subject,
                 "textBody": [{"partId": "t", "type": "text/plain"}], "bodyValues": {"t": {"value": "hello"}}}
        return self.a.call(["Email/set", {"accountId": self.a.account, "create": {"k": draft}}, "c"])[0][1]

    def jmap_submit(self, mail_from, subject, frm="alice@example.test"):
        boxes = self.a.mailboxes()
        draft = {"mailboxIds": {boxes["drafts"]: True}, "keywords": {"$draft": True, "$seen": True},
                 "from": [{"email": frm}], "to": [{"email": x} for x in RCPTS], "subject": subject,
                 "textBody": [{"partId": "t", "type": "text/plain"}], "bodyValues": {"t": {"value": "hello"}}}
        r = self.a.call(
            ["Email/set", {"accountId": self.a.account, "create": {"k": draft}}, "c"],
            ["EmailSubmission/set", {"accountId": self.a.account,
                                     "create": {"s": {"emailId": "#k", "identityId": "I0",
                                                      "envelope": {"mailFrom": {"email": mail_from},
                                                                   "rcptTo": [{"email": x} for x in RCPTS]}}},
                                     "onSuccessUpdateEmail": {"#s": {f"mailboxIds/{boxes['drafts']}": None,
                                                                     f"mailboxIds/{boxes['sent']}": True,
                                                                     "keywords/$draft": None}}}, "s"])
        self.assertIn("k", r[0][1].get("created") or {}, r)
        return r[1][1]

    def queue_rows(self):
        out = self.d.ctl("queue", "list", "--json").stdout
        return json.loads(out)["queue"]

    def sent_copy(self, subject):
        boxes = self.a.mailboxes()
        r = self.a.call(["Email/query", {"accountId": self.a.account,
                                         "filter": {"inMailbox": boxes["sent"]}}, "q"],
                        ["Email/get", {"accountId": self.a.account, "#ids": {"resultOf": "q", "name": "Email/query",
                                                                             "path": "/ids"},
                                       "properties": ["mailboxIds", "keywords", "subject", "to", "from"]}, "g"])
        found = [e for e in r[1][1]["list"] if e["subject"] == subject]
        self.assertEqual(len(found), 1, r)
        e = found[0]
        return ({name for name, i in boxes.items() if i in e["mailboxIds"]}, sorted(e["keywords"]),
                [a["email"] for a in e["to"]], [a["email"] for a in e["from"]])

    def rows_of(self, rows, message_id):
        return sorted((r["mail_from"], tuple(r["rcpt_to"])) for r in rows if r["message_id"] == message_id)

    def test_1_same_queue_rows_and_sent_copy(self):
        before = {r["id"] for r in self.queue_rows()}
        self.smtp_submit("alice@example.test", "by smtp")
        smtp_rows = [r for r in self.queue_rows() if r["id"] not in before]
        before |= {r["id"] for r in smtp_rows}
        res = self.jmap_submit("alice@example.test", "by jmap")
        self.assertIn("s", res.get("created") or {}, res)
        jmap_rows = [r for r in self.queue_rows() if r["id"] not in before]
        self.assertEqual(len({r["message_id"] for r in smtp_rows}), 1, smtp_rows)
        self.assertEqual(len({r["message_id"] for r in jmap_rows}), 1, jmap_rows)
        want = [("alice@example.test", ("x@one.test", "z@one.test")), ("alice@example.test", ("y@two.test",))]
        self.assertEqual(self.rows_of(smtp_rows, smtp_rows[0]["message_id"]), sorted(want))
        self.assertEqual(self.rows_of(jmap_rows, jmap_rows[0]["message_id"]), sorted(want))
        s, j = self.sent_copy("by smtp"), self.sent_copy("by jmap")
        self.assertEqual(s, ({"sent"}, ["$seen"], RCPTS, ["alice@example.test"]))
        self.assertEqual(j, s)

    def test_2_alias_sender_on_both_paths(self):
        self.smtp_submit("sales@example.test", "alias by smtp", frm="sales@example.test")
        res = self.jmap_submit("sales@example.test", "alias by jmap", frm="sales@example.test")
        self.assertIn("s", res.get("created") or {}, res)
        froms = {r["mail_from"] for r in self.queue_rows()}
        self.assertIn("sales@example.test", froms)

    def test_3_other_users_address_refused_on_both_paths(self):
        with self.assertRaises(smtplib.SMTPSenderRefused):
            self.smtp_submit("bob@example.test", "as bob by smtp")
        res = self.jmap_submit("bob@example.test", "as bob by jmap")
        self.assertEqual(res["notCreated"]["s"]["type"], "forbiddenMailFrom", res)
        # Email/set takes a From: only the submission port would send (own address or alias).
        res = self.jmap_create("bob in from by jmap", "bob@example.test")
        self.assertEqual(res["notCreated"]["k"]["type"], "invalidProperties", res)
        res = self.jmap_create("alias in from by jmap", "sales@example.test")
        self.assertIn("k", res.get("created") or {}, res)
        with self.assertRaises(smtplib.SMTPDataError) as e:
            self.smtp_submit("alice@example.test", "bob in from by smtp", frm="bob@example.test")
        self.assertEqual(e.exception.smtp_code, 550)


if __name__ == "__main__":
    main()

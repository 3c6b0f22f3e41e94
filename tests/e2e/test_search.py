"""End-to-end: full-text search (search/, Xapian) behind JMAP Email/query against the
real refmaild. Mail arrives over SMTP and is found at once (the query catches its
account up before answering); every text filter (text, body, subject, from, to, cc,
bcc; an attachment name through text) finds its own field only; text conditions ANDed
with inMailbox and hasKeyword, ORed and NOTed; English stems and CJK; a destroyed email
is no longer found; hostile query text gets an answer, never a dead daemon; the index
lives under <data_dir>/fts, comes back after its folder is deleted, and
`refmailctl index rebuild` (online and --offline) rebuilds it; /metrics shows the lag."""
import json, os, shutil, smtplib, time, unittest, urllib.request
from harness import Daemon, JmapClient, main, with_attachment


def message(subject, body, frm="Sender Person <sender@outside.test>", to="alice@example.test", cc=None, bcc=None):
    head = f"From: {frm}\r\nTo: {to}\r\n"
    if cc:
        head += f"Cc: {cc}\r\n"
    if bcc:
        head += f"Bcc: {bcc}\r\n"
    return (head + f"Subject: {subject}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            + body + "\r\n").encode()


class Search(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon()
        cls.d.add_user("alice@example.test", "alice-pw-1")
        cls.d.add_user("bob@example.test", "bob-pw-1")
        cls.a = JmapClient(cls.d.ports["http"], "alice@example.test", "alice-pw-1")
        cls.b = JmapClient(cls.d.ports["http"], "bob@example.test", "bob-pw-1")
        cls.ids = {}
        cls.send("budget", message("Quarterly budget review", "Numbers for the board.",
                                   frm="Zed Zebra <zed@zoo.test>", cc="Carl Copy <carl@copies.test>",
                                   bcc="hidden@blind.test"))
        cls.send("lunch", message("Lunch plans", "Shall we discuss the budget over lunch? The team runs late."))
        cls.send("invoice", with_attachment("Paperwork", b"%PDF-1.4 fake", "alice@example.test",
                                            name="invoice-march.pdf"))
        cls.send("cjk", message("会议通知", "明天下午三点开会。"))

    @classmethod
    def send(cls, key, raw, subject_word=None):
        s = smtplib.SMTP("127.0.0.1", cls.d.ports["smtp"], timeout=30)
        s.sendmail("sender@outside.test", ["alice@example.test"], raw)
        s.quit()
        # Right after delivery, with no wait: the query catches the index up first.
        word = subject_word or {"budget": "quarterly", "lunch": "lunch", "invoice": "paperwork", "cjk": "会议"}[key]
        found = cls.find(cls.a, {"subject": word})
        assert len(found) == 1, (key, found)
        cls.ids[key] = found[0]

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    @staticmethod
    def query(client, filt, **extra):
        r = client.call(["Email/query", {"accountId": client.account, "filter": filt, **extra}, "q"])
        return r[0]

    @classmethod
    def find(cls, client, filt):
        name, args, _ = cls.query(client, filt)
        assert name == "Email/query", (name, args)
        return args["ids"]

    def ids_of(self, *keys):
        return sorted(self.ids[k] for k in keys)

    def test_1_each_field_finds_its_own(self):
        f = lambda filt: sorted(self.find(self.a, filt))
        self.assertEqual(f({"subject": "budget"}), self.ids_of("budget"))
        self.assertEqual(f({"body": "budget"}), self.ids_of("lunch"))
        self.assertEqual(f({"text": "budget"}), self.ids_of("budget", "lunch"))
        self.assertEqual(f({"from": "zebra"}), self.ids_of("budget"))
        self.assertEqual(f({"from": "zed@zoo.test"}), self.ids_of("budget"))
        self.assertEqual(f({"to": "alice@example.test"}), self.ids_of("budget", "lunch", "invoice", "cjk"))
        self.assertEqual(f({"to": "zebra"}), [])
        self.assertEqual(f({"cc": "carl"}), self.ids_of("budget"))
        self.assertEqual(f({"bcc": "hidden"}), self.ids_of("budget"))
        self.assertEqual(f({"cc": "hidden"}), [])
        self.assertEqual(f({"text": "invoice"}), self.ids_of("invoice"))  # the attachment's name
        self.assertEqual(f({"body": "invoice"}), [])
        self.assertEqual(f({"body": "running"}), self.ids_of("lunch"))  # stem of "runs"
        self.assertEqual(f({"text": "下午"}), self.ids_of("cjk"))
        self.assertEqual(f({"text": "\"budget over lunch\""}), self.ids_of("lunch"))
        # Another account's mail is not found.
        self.assertEqual(self.find(self.b, {"text": "budget"}), [])

    def test_2_text_with_other_conditions(self):
        boxes = self.a.mailboxes()
        f = lambda filt: sorted(self.find(self.a, filt))
        self.assertEqual(f({"operator": "AND", "conditions": [{"text": "budget"}, {"inMailbox": boxes["inbox"]}]}),
                         self.ids_of("budget", "lunch"))
        self.assertEqual(f({"text": "budget", "inMailbox": boxes["trash"]}), [])
        r = self.a.call(["Email/set", {"accountId": self.a.account,
                                       "update": {self.ids["lunch"]: {"keywords/$flagged": True}}}, "s"])
        self.assertIn(self.ids["lunch"], r[0][1]["updated"])
        self.assertEqual(f({"text": "budget", "hasKeyword": "$flagged"}), self.ids_of("lunch"))
        self.assertEqual(f({"operator": "AND", "conditions": [{"text": "budget"},
                                                              {"operator": "NOT", "conditions": [{"hasKeyword": "$flagged"}]}]}),
                         self.ids_of("budget"))
        self.assertEqual(f({"operator": "OR", "conditions": [{"subject": "paperwork"}, {"cc": "carl"}]}),
                         self.ids_of("budget", "invoice"))
        self.assertEqual(f({"operator": "NOT", "conditions": [{"text": "budget"}]}), self.ids_of("invoice", "cjk"))
        # Sorting and collapseThreads as without text.
        name, args, _ = self.query(self.a, {"text": "budget"}, sort=[{"property": "receivedAt", "isAscending": True}],
                                   collapseThreads=True, calculateTotal=True)
        self.assertEqual(sorted(args["ids"]), self.ids_of("budget", "lunch"))
        self.assertEqual(args["total"], 2)

    def test_3_hostile_text_is_answered(self):
        for text in ["*", "\"unbalanced", "", "\x01\x1b[31m", "((( AND OR", "subject:budget", "x" * 100000]:
            name, args, _ = self.query(self.a, {"text": text})
            if name == "error":
                self.assertEqual(args["type"], "unsupportedFilter", text[:20])
            else:
                self.assertEqual(name, "Email/query")
        self.assertEqual(self.find(self.a, {"text": "*"}), [])
        self.assertEqual(self.query(self.a, {"text": "x" * 100000})[1]["type"], "unsupportedFilter")
        # Still serving.
        self.assertEqual(sorted(self.find(self.a, {"text": "budget"})), self.ids_of("budget", "lunch"))

    def test_4_destroyed_email_is_not_found(self):
        self.send("gone", message("Ephemeral note", "vanishing words"), "ephemeral")
        self.assertEqual(self.find(self.a, {"body": "vanishing"}), [self.ids["gone"]])
        r = self.a.call(["Email/set", {"accountId": self.a.account, "destroy": [self.ids["gone"]]}, "d"])
        self.assertEqual(r[0][1]["destroyed"], [self.ids["gone"]])
        self.assertEqual(self.find(self.a, {"body": "vanishing"}), [])

    def test_5_worker_indexes_and_metrics_show_the_lag(self):
        # Mail to bob, who does not search: the background worker indexes it.
        s = smtplib.SMTP("127.0.0.1", self.d.ports["smtp"], timeout=30)
        s.sendmail("sender@outside.test", ["bob@example.test"], message("For bob", "worker indexed", to="bob@example.test"))
        s.quit()
        url = f"http://127.0.0.1:{self.d.ports['http']}/metrics"
        deadline = time.time() + 20
        while True:
            metrics = urllib.request.urlopen(url, timeout=30).read().decode()
            lines = [l for l in metrics.splitlines() if l.startswith("refmail_search_lag_states")]
            if lines and lines[0].split()[-1] in ("0", "0.0") and "refmail_search_indexed_total" in metrics:
                break
            self.assertLess(time.time(), deadline, metrics)
            time.sleep(0.2)
        self.assertIn("refmail_search_accounts_behind", metrics)
        fts = os.path.join(self.d.data, "fts")
        self.assertEqual(len(os.listdir(fts)), 2)  # one database per account

    def test_6_lost_index_and_rebuild_commands(self):
        out = self.d.ctl("index", "rebuild", "alice@example.test")
        self.assertIn("alice@example.test: 4 email(s) indexed", out.stdout)
        self.assertEqual(sorted(self.find(self.a, {"text": "budget"})), self.ids_of("budget", "lunch"))
        self.d.stop()
        shutil.rmtree(os.path.join(self.d.data, "fts"))
        self.d.ctl("index", "rebuild", "--offline")
        self.assertTrue(os.listdir(os.path.join(self.d.data, "fts")))
        shutil.rmtree(os.path.join(self.d.data, "fts"))  # lost again: refmaild rebuilds it
        self.d.start()
        # A query never rebuilds; the worker does, within a pass or two ("running" finds
        # "runs" only through the index: the scan matches substrings).
        deadline = time.time() + 20
        while self.find(self.a, {"body": "running"}) != [self.ids["lunch"]]:
            self.assertLess(time.time(), deadline, self.d.tail())
            time.sleep(0.2)
        self.assertEqual(sorted(self.find(self.a, {"text": "budget"})), self.ids_of("budget", "lunch"))
        self.assertEqual(len(self.find(self.b, {"body": "worker"})), 1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""tests/e2e/test_spam.py — spam filtering through the real rspamd (issue 20 item 1),
started by the test on loopback (rspamd_server.py): rspamd's test patterns are
rejected with 550 5.7.1, filed into Junk (made when missing) with X-Spam headers, or
filed with the rewritten subject; a clean message is delivered with its verdict; header
fields a sender forged are removed; a message above [spam] max_size is checked as its
skeleton; moving a message into Junk (IMAP MOVE) and out of it (JMAP Email/set) teaches
rspamd's controller; an authenticated submission with spam (over SMTP and over JMAP) is
stopped with a warn line.
And the fail modes without a working rspamd: nothing listening, a peer that never
answers, a peer that answers garbage; open delivers marked unchecked, closed answers 451."""
import imaplib
import os
import smtplib
import socket
import threading
import time
import unittest
import urllib.request

from harness import Daemon, JmapClient, free_port, main, with_attachment
from rspamd_server import GTUBE_ADD_HEADER, GTUBE_REJECT, GTUBE_REWRITE_SUBJECT, Rspamd

USER, PW = "bob@example.test", "bob-pw"
TEXT = ("Hello Bob, here are the minutes of Tuesday's meeting about the garden party, "
        "the budget for the new benches and the list of volunteers for Saturday morning.")

rspamd = None


def setUpModule():
    global rspamd
    rspamd = Rspamd()


def tearDownModule():
    if rspamd:
        rspamd.stop()


def spam_toml(**over):
    conf = {"rspamd": '"127.0.0.1:%d"' % rspamd.port, "controller": '"127.0.0.1:%d"' % rspamd.controller_port,
            "password": '"%s"' % rspamd.password, "timeout": "10"}
    conf.update(over)
    return ("[smtp]\nplain_auth_on_loopback = true\n[spam]\n" +
            "".join("%s = %s\n" % (k, v) for k, v in conf.items()))


def message(subject, body, msgid, extra=b""):
    return (b"From: Alice <alice@sender.test>\r\nTo: bob@example.test\r\nSubject: " + subject.encode() +
            b"\r\nMessage-ID: <" + msgid.encode() + b">\r\nDate: Mon, 07 Dec 2026 10:00:00 +0000\r\n" + extra +
            b"\r\n" + body.encode() + b"\r\n")


def metrics(d):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % d.ports["http"], timeout=30) as r:
        return r.read().decode()


class Mailbox:
    """IMAP helpers over one daemon."""

    def __init__(self, d):
        self.d = d

    def send(self, msg, mail_from="alice@sender.test"):
        with smtplib.SMTP("127.0.0.1", self.d.ports["smtp"], timeout=60) as s:
            s.ehlo("out.sender.test")
            s.sendmail(mail_from, [USER], msg)

    def imap(self):
        m = imaplib.IMAP4("127.0.0.1", self.d.ports["imap"], timeout=60)
        m.login(USER, PW)
        return m

    def fetch(self, mailbox, subject):
        """(raw bytes, FLAGS line) of the one message with `subject` in `mailbox`, or None."""
        m = self.imap()
        try:
            typ, _ = m.select(mailbox)
            if typ != "OK":
                return None
            typ, data = m.search(None, "SUBJECT", '"%s"' % subject)
            nums = data[0].split()
            if not nums:
                return None
            assert len(nums) == 1, nums
            typ, data = m.fetch(nums[0], "(FLAGS BODY.PEEK[])")
            return data[0][1], data[0][0]
        finally:
            m.logout()


class SpamTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(extra_toml=spam_toml(max_size="200000"))
        cls.d.add_user(USER, PW)
        cls.d.add_user("alice@example.test", "alice-pw")
        cls.d.ctl("user", "add", "root@example.test", "--admin", "--password-stdin", stdin="root-pw\n")
        cls.mb = Mailbox(cls.d)

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_1_clean_message_is_delivered_with_its_verdict(self):
        msg = message("minutes", TEXT, "clean-1@sender.test")
        self.mb.send(msg)
        raw, flags = self.mb.fetch("INBOX", "minutes")
        self.assertTrue(raw.startswith(b"X-Spam-Status: No, score="), raw[:300])
        self.assertIn(b'action="no action"', raw[:300])
        self.assertNotIn(b"$junk", flags.lower())
        self.assertTrue(raw.endswith(msg), raw[-200:])  # the received bytes below, exactly
        self.assertIn('refmail_spam_actions_total{action="no action"}', metrics(self.d))

    def test_2_reject_pattern_is_refused_and_nothing_stored(self):
        with self.assertRaises(smtplib.SMTPDataError) as e:
            self.mb.send(message("reject me", GTUBE_REJECT, "reject-1@sender.test"))
        self.assertEqual(e.exception.smtp_code, 550)
        self.assertIn(b"5.7.1", e.exception.smtp_error)
        self.assertIsNone(self.mb.fetch("INBOX", "reject me"))
        self.assertIn('refmail_spam_actions_total{action="reject"}', metrics(self.d))

    def test_3_add_header_goes_to_junk_and_forged_fields_are_removed(self):
        forged = b"X-Spam-Status: No, score=-100\r\nX-Spam: No\r\n"
        msg = message("cheap pills", GTUBE_ADD_HEADER, "junk-1@sender.test", extra=forged)
        self.mb.send(msg)
        self.assertIsNone(self.mb.fetch("INBOX", "cheap pills"))
        raw, flags = self.mb.fetch("Junk", "cheap pills")  # Junk did not exist: made for it
        self.assertIn(b"$junk", flags.lower())
        self.assertTrue(raw.startswith(b"X-Spam: Yes\r\nX-Spam-Status: Yes, score="), raw[:300])
        self.assertIn(b'action="add header"', raw[:400])
        self.assertIn(b"GTUBE", raw[:600])
        self.assertNotIn(b"score=-100", raw)
        self.assertNotIn(b"X-Spam: No", raw)
        self.assertTrue(raw.endswith(msg.replace(forged, b"")), raw[-300:])
        # JMAP sees the made mailbox with its role.
        j = JmapClient(self.d.ports["http"], USER, PW)
        self.assertIn("junk", j.mailboxes())

    def test_4_rewrite_subject_goes_to_junk(self):
        self.mb.send(message("great offer", GTUBE_REWRITE_SUBJECT, "rewrite-1@sender.test"))
        raw, flags = self.mb.fetch("Junk", "SPAM")
        self.assertIn(b"\r\nSubject: *** SPAM *** great offer\r\n", raw)
        self.assertIn(b'action="rewrite subject"', raw[:400])

    def test_5_large_message_is_checked_as_its_skeleton(self):
        big = with_attachment("big pills", os.urandom(300000), USER, frm="alice@sender.test")
        big = big.replace(b"See attached.", GTUBE_ADD_HEADER.encode())
        self.mb.send(big)
        raw, _ = self.mb.fetch("Junk", "big pills")
        self.assertIn(b"skeleton-only", raw[:400])
        self.assertTrue(raw.endswith(big))
        small = with_attachment("small pills", os.urandom(20000), USER, frm="alice@sender.test")
        small = small.replace(b"See attached.", GTUBE_ADD_HEADER.encode())
        self.mb.send(small)
        raw, _ = self.mb.fetch("Junk", "small pills")
        self.assertNotIn(b"skeleton-only", raw[:400])

    def test_6_moves_into_and_out_of_junk_teach_rspamd(self):
        self.mb.send(message("learn me", TEXT + " Spam that slipped through.", "learn-1@sender.test"))
        m = self.mb.imap()
        try:
            m.select("INBOX")
            typ, data = m.search(None, "SUBJECT", '"learn me"')
            nums = data[0].split()
            self.assertEqual(len(nums), 1, data)
            typ, _ = m._simple_command("MOVE", nums[0].decode(), "Junk")  # RFC 6851; imaplib has no move()
            self.assertEqual(typ, "OK")
        finally:
            m.logout()
        self.assertTrue(rspamd.learned("spam", "learn-1@sender.test"), rspamd.tail() + self.d.tail())
        # Back out of Junk with JMAP (what the webmail's "not spam" does).
        j = JmapClient(self.d.ports["http"], USER, PW)
        boxes = j.mailboxes()
        r = j.call(["Email/query", {"accountId": j.account, "filter": {"inMailbox": boxes["junk"],
                                                                       "subject": "learn me"}}, "q"])
        ids = r[0][1]["ids"]
        self.assertEqual(len(ids), 1, r)
        r = j.call(["Email/set", {"accountId": j.account,
                                  "update": {ids[0]: {"mailboxIds": {boxes["inbox"]: True}}}}, "s"])
        self.assertIn(ids[0], r[0][1]["updated"], r)
        self.assertTrue(rspamd.learned("ham", "learn-1@sender.test"), rspamd.tail() + self.d.tail())
        self.assertIn('refmail_spam_learn_total{result="ham"}', metrics(self.d))
        # Deleting spam (Junk -> Trash, what clients do) teaches nothing.
        self.mb.send(message("delete me", GTUBE_ADD_HEADER, "trash-1@sender.test"))
        m = self.mb.imap()
        try:
            m.select("Junk")
            typ, data = m.search(None, "SUBJECT", '"delete me"')
            nums = data[0].split()
            self.assertEqual(len(nums), 1, data)
            typ, _ = m._simple_command("MOVE", nums[0].decode(), "Trash")
            self.assertEqual(typ, "OK")
        finally:
            m.logout()
        self.assertFalse(rspamd.learned("ham", "trash-1@sender.test", timeout=3))

    def test_7_spam_from_an_authenticated_user_is_stopped(self):
        s = smtplib.SMTP("127.0.0.1", self.d.ports["submission"], timeout=30)
        try:
            s.login("alice@example.test", "alice-pw")
            msg = (b"From: alice@example.test\r\nTo: carol@remote.test\r\nSubject: outbound\r\n"
                   b"Message-ID: <out-1@example.test>\r\n\r\n" + GTUBE_REJECT.encode() + b"\r\n")
            with self.assertRaises(smtplib.SMTPDataError) as e:
                s.sendmail("alice@example.test", ["carol@remote.test"], msg)
            self.assertEqual(e.exception.smtp_code, 550)
        finally:
            s.close()
        deadline = time.time() + 10
        while "spam.outbound_blocked" not in self.d.tail(200) and time.time() < deadline:
            time.sleep(0.1)
        self.assertIn("spam.outbound_blocked", self.d.tail(200))
        self.assertIn("alice@example.test", [l for l in self.d.tail(200).splitlines() if "outbound_blocked" in l][0])
        self.assertIn("refmail_spam_outbound_blocked_total 1", metrics(self.d))
        # The admins are told, once per user per hour (a second refusal: logged, no note).
        s = smtplib.SMTP("127.0.0.1", self.d.ports["submission"], timeout=30)
        try:
            s.login("alice@example.test", "alice-pw")
            with self.assertRaises(smtplib.SMTPDataError):
                s.sendmail("alice@example.test", ["carol@remote.test"], msg)
        finally:
            s.close()
        m = imaplib.IMAP4("127.0.0.1", self.d.ports["imap"], timeout=60)
        m.login("root@example.test", "root-pw")
        try:
            m.select("INBOX")
            typ, data = m.search(None, "SUBJECT", '"Outgoing spam stopped from alice@example.test"')
            self.assertEqual(len(data[0].split()), 1, data)
        finally:
            m.logout()
        self.assertIn("refmail_spam_outbound_blocked_total 2", metrics(self.d))

    def test_8_jmap_submission_meets_the_outbound_policy(self):
        a = JmapClient(self.d.ports["http"], "alice@example.test", "alice-pw")
        boxes = a.mailboxes()

        def submit(subject, body):
            draft = {"mailboxIds": {boxes["drafts"]: True}, "keywords": {"$draft": True},
                     "from": [{"email": "alice@example.test"}], "to": [{"email": USER}], "subject": subject,
                     "textBody": [{"partId": "t", "type": "text/plain"}], "bodyValues": {"t": {"value": body}}}
            return a.call(["Email/set", {"accountId": a.account, "create": {"k": draft}}, "c"],
                          ["EmailSubmission/set", {"accountId": a.account, "create": {"s": {"emailId": "#k"}}}, "s"])[1][1]
        # rspamd finds its pattern only on a line of its own (here: with its line end).
        r = submit("webmail spam", GTUBE_REJECT + "\n")
        self.assertEqual((r.get("notCreated") or {}).get("s", {}).get("type"), "forbiddenToSend", r)
        self.assertIn("refmail_spam_outbound_blocked_total 3", metrics(self.d))
        self.assertIsNone(self.mb.fetch("INBOX", "webmail spam"))
        r = submit("webmail minutes", TEXT)
        self.assertIn("s", r.get("created") or {}, r)
        got = self.mb.fetch("INBOX", "webmail minutes")
        self.assertIsNotNone(got)
        self.assertNotIn(b"X-Spam", got[0])  # a submission leaves as it was written


class RejectAsJunkTest(unittest.TestCase):
    def test_reject_false_files_into_junk(self):
        d = Daemon(extra_toml=spam_toml(reject="false"))
        try:
            d.add_user(USER, PW)
            mb = Mailbox(d)
            mb.send(message("would be rejected", GTUBE_REJECT, "reject-2@sender.test"))
            self.assertIsNone(mb.fetch("INBOX", "would be rejected"))
            raw, flags = mb.fetch("Junk", "would be rejected")
            self.assertIn(b'action="reject"', raw[:400])
        finally:
            d.cleanup()


class SilentPeer:
    """A TCP listener that accepts and then answers nothing, or `reply` once the request
    is read; on its own thread, closed by the test."""

    def __init__(self, reply=None):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.reply = reply
        self.conns = []
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            if self.reply is not None:
                c.settimeout(10)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        data += c.recv(65536)
                    head, _, body = data.partition(b"\r\n\r\n")
                    n = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0]
                            .split(b":")[1])
                    while len(body) < n:
                        body += c.recv(65536)
                    c.sendall(self.reply)
                except (OSError, ValueError, IndexError):
                    pass
                c.close()

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


class FailModeTest(unittest.TestCase):
    def run_case(self, port, mode, subject, timeout=10):
        d = Daemon(extra_toml='[smtp]\nplain_auth_on_loopback = true\n[spam]\nrspamd = "127.0.0.1:%d"\nfail_mode = "%s"\ntimeout = %d\n' % (port, mode, timeout))
        try:
            d.add_user(USER, PW)
            mb = Mailbox(d)
            msg = message(subject, TEXT, subject.replace(" ", "-") + "@sender.test")
            started = time.time()
            if mode == "closed":
                with self.assertRaises(smtplib.SMTPDataError) as e:
                    mb.send(msg)
                self.assertEqual(e.exception.smtp_code, 451)
                self.assertIn(b"4.7.1", e.exception.smtp_error)
                self.assertIsNone(mb.fetch("INBOX", subject))
            else:
                mb.send(msg)
                raw, _ = mb.fetch("INBOX", subject)
                self.assertTrue(raw.startswith(b"X-Spam-Status: unchecked\r\n"), raw[:200])
                self.assertTrue(raw.endswith(msg))
            elapsed = time.time() - started
            self.assertIn('refmail_spam_actions_total{action="unchecked"}', metrics(d))
            self.assertIn("spam.unchecked", d.tail(100))
            return elapsed
        finally:
            d.cleanup()

    def test_nothing_listening(self):
        port = free_port()
        self.run_case(port, "open", "down open")
        self.run_case(port, "closed", "down closed")

    def test_peer_that_never_answers_meets_the_deadline(self):
        peer = SilentPeer()
        try:
            elapsed = self.run_case(peer.port, "closed", "silent closed", timeout=2)
            self.assertLess(elapsed, 15)
            self.run_case(peer.port, "open", "silent open", timeout=2)
        finally:
            peer.close()

    def test_garbage_reply(self):
        for reply in (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nnot json{",
                      b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"action\": \"rej",
                      b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n",
                      b"\x00\x01garbage"):
            peer = SilentPeer(reply)
            try:
                self.run_case(peer.port, "open", "garbage open")
            finally:
                peer.close()


if __name__ == "__main__":
    main()

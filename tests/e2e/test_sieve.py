#!/usr/bin/env python3
"""tests/e2e/test_sieve.py — Sieve at delivery (issue 20 item 2), scripts uploaded with a
real ManageSieve client (python3-sievelib) and mail sent over SMTP: fileinto with
:create and imap4flags, a missing mailbox (delivered to INBOX, the user told once),
discard, reject (refused in the SMTP transaction), redirect to another domain (the
relay's peer gets it with an SRS sender; :copy keeps ours), a redirect loop between two
local accounts (ends in an INBOX, nothing lost), vacation (the foreign sender's MX gets
exactly one reply within :days, none for list mail), scripts using an extension the
delivery does not carry out refused at upload with line:column, and the admin's
`[sieve] before` script run ahead of the user's."""
import imaplib
import os
import smtplib
import sys
import tempfile
import time
import unittest

from harness import Daemon, main
from test_relay import ForeignMx

DIST = "/usr/lib/python3/dist-packages"
try:
    from sievelib.managesieve import Client
except ImportError:  # Debian's python3-sievelib when the python running the tests is not Debian's own
    if DIST not in sys.path:
        sys.path.append(DIST)
    from sievelib.managesieve import Client

PLAIN = "\n[smtp]\nplain_auth_on_loopback = true\n"
USERS = {"bob@example.test": "bob-pw", "carol@example.test": "carol-pw", "erin@example.test": "erin-pw"}


def put_script(d, user, text, name="main"):
    c = Client("127.0.0.1", d.ports["managesieve"])
    assert c.connect(user, USERS[user], authmech="PLAIN"), getattr(c, "errmsg", b"")
    try:
        ok = c.putscript(name, text)
        if not ok:
            return getattr(c, "errmsg", b"").decode(errors="replace")
        assert c.setactive(name)
        return None
    finally:
        c.logout()


def send(d, to, msg, mail_from="dave@origin.test"):
    with smtplib.SMTP("127.0.0.1", d.ports["smtp"], timeout=60) as s:
        s.ehlo("mail.origin.test")
        s.sendmail(mail_from, [to], msg)


def message(subject, extra=b"", frm=b"Dave <dave@origin.test>", to=b"bob@example.test"):
    return (b"From: " + frm + b"\r\nTo: " + to + b"\r\nSubject: " + subject.encode() +
            b"\r\nMessage-ID: <" + subject.replace(" ", "-").encode() + b"@origin.test>\r\n" + extra +
            b"\r\nHello.\r\n")


def mailbox(d, user, box):
    """{subject: flags} of every message in `box`, or None when it does not exist."""
    m = imaplib.IMAP4("127.0.0.1", d.ports["imap"], timeout=60)
    m.login(user, USERS[user])
    try:
        typ, _ = m.select(box)
        if typ != "OK":
            return None
        typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        out = {}
        if typ != "OK":
            return out
        for item in data:
            if isinstance(item, tuple):
                subj = item[1].decode().strip()
                subj = subj[len("Subject: "):] if subj.startswith("Subject: ") else subj
                out[subj] = item[0].decode()
        return out
    finally:
        m.logout()


class SieveDelivery(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fx = ForeignMx(extra_toml=PLAIN)
        cls.peer, cls.d = cls.fx.peer, cls.fx.d
        for u, p in USERS.items():
            cls.d.add_user(u, p)

    @classmethod
    def tearDownClass(cls):
        cls.fx.close()

    def test_fileinto_create_flags_and_discard(self):
        err = put_script(self.d, "bob@example.test", (
            'require ["fileinto", "imap4flags", "mailbox"];\r\n'
            'if header :contains "subject" "invoice" {\r\n'
            '  fileinto :create :flags ["\\\\Flagged", "$billing"] "Billing";\r\n'
            '} elsif header :contains "subject" "noise" {\r\n'
            '  discard;\r\n'
            '}\r\n'))
        self.assertIsNone(err)
        send(self.d, "bob@example.test", message("invoice 42"))
        send(self.d, "bob@example.test", message("noise 1"))
        send(self.d, "bob@example.test", message("plain 1"))
        billing = mailbox(self.d, "bob@example.test", "Billing")
        self.assertIn("invoice 42", billing)
        self.assertIn("\\Flagged", billing["invoice 42"])
        self.assertIn("$billing", billing["invoice 42"])
        inbox = mailbox(self.d, "bob@example.test", "INBOX")
        self.assertIn("plain 1", inbox)
        self.assertNotIn("invoice 42", inbox)
        self.assertNotIn("noise 1", inbox)

    def test_missing_mailbox_keeps_and_tells_once(self):
        err = put_script(self.d, "erin@example.test",
                         'require "fileinto";\r\nfileinto "Does Not Exist";\r\n')
        self.assertIsNone(err)
        erin = "erin@example.test"
        send(self.d, erin, message("lost 1", to=erin.encode()), mail_from="dave@origin.test")
        send(self.d, erin, message("lost 2", to=erin.encode()), mail_from="dave@origin.test")
        inbox = mailbox(self.d, erin, "INBOX")
        self.assertIn("lost 1", inbox)
        self.assertIn("lost 2", inbox)
        notes = [s for s in inbox if s.startswith("Your mail filter (Sieve) failed")]
        self.assertEqual(len(notes), 1, inbox)
        self.assertIn("delivery.after", self.d.tail(400))

    def test_reject_is_refused_in_the_transaction(self):
        put_script(self.d, "carol@example.test", 'require "reject";\r\nif header :contains "subject" "sales" '
                                                 '{ reject "No sales calls, please."; }\r\n')
        with self.assertRaises(smtplib.SMTPDataError) as e:
            send(self.d, "carol@example.test", message("sales pitch", to=b"carol@example.test"))
        self.assertEqual(e.exception.smtp_code, 554)
        self.assertIn(b"5.7.1", e.exception.smtp_error)
        self.assertNotIn("sales pitch", mailbox(self.d, "carol@example.test", "INBOX"))
        put_script(self.d, "carol@example.test", "keep;\r\n")

    def test_redirect_foreign_with_srs_and_copy(self):
        before = len(self.peer.messages)
        put_script(self.d, "carol@example.test", 'require "copy";\r\n'
                   'if header :contains "subject" "fwd-copy" { redirect :copy "zed@remote.test"; }\r\n'
                   'elsif header :contains "subject" "fwd" { redirect "zed@remote.test"; }\r\n')
        send(self.d, "carol@example.test", message("fwd 1", to=b"carol@example.test"))
        send(self.d, "carol@example.test", message("fwd-copy 2", to=b"carol@example.test"))
        msgs = self.peer.wait(before + 2)
        self.assertGreaterEqual(len(msgs), before + 2, self.d.tail())
        got = {}
        for mail_from, rcpts, data, _, _ in msgs[before:]:
            self.assertEqual(rcpts, ["zed@remote.test"])
            local, _, domain = mail_from.rpartition("@")
            self.assertEqual(domain, "example.test", mail_from)  # SRS: the next hop's SPF holds
            self.assertTrue(local.startswith("SRS0="), mail_from)
            got[data.split(b"Subject: ")[1].split(b"\r\n")[0].decode()] = data
        self.assertEqual(set(got), {"fwd 1", "fwd-copy 2"})
        inbox = mailbox(self.d, "carol@example.test", "INBOX")
        self.assertNotIn("fwd 1", inbox)
        self.assertIn("fwd-copy 2", inbox)
        put_script(self.d, "carol@example.test", "keep;\r\n")

    def test_redirect_loop_between_local_accounts_loses_nothing(self):
        put_script(self.d, "bob@example.test", 'if header :contains "subject" "loop" '
                                               '{ redirect "carol@example.test"; }\r\n', name="loop")
        put_script(self.d, "carol@example.test", 'if header :contains "subject" "loop" '
                                                 '{ redirect "bob@example.test"; }\r\n', name="loop")
        send(self.d, "bob@example.test", message("loop 1"))
        self.assertIn("loop 1", mailbox(self.d, "bob@example.test", "INBOX"))
        self.assertNotIn("loop 1", mailbox(self.d, "carol@example.test", "INBOX"))
        put_script(self.d, "carol@example.test", "keep;\r\n")

    def test_vacation_once_per_sender_and_never_to_lists(self):
        err = put_script(self.d, "bob@example.test", (
            'require "vacation";\r\n'
            'vacation :days 1 :subject "Out of office" "I am away until Monday.";\r\n'), name="away")
        self.assertIsNone(err)
        before = len(self.peer.messages)
        send(self.d, "bob@example.test", message("question 1", frm=b"Fay <fay@origin.test>"), "fay@origin.test")
        msgs = self.peer.wait(before + 1)
        self.assertEqual(len(msgs), before + 1, self.d.tail())
        mail_from, rcpts, data, _, _ = msgs[before]
        self.assertEqual((mail_from, rcpts), ("", ["fay@origin.test"]))
        self.assertIn(b"Subject: Out of office\r\n", data)
        self.assertIn(b"Auto-Submitted: auto-replied", data)
        self.assertIn(b"In-Reply-To: <question-1@origin.test>", data)
        self.assertIn(b"I am away until Monday.", data)
        # A second message from the same sender within :days, and list mail: no reply.
        send(self.d, "bob@example.test", message("question 2", frm=b"Fay <fay@origin.test>"), "fay@origin.test")
        send(self.d, "bob@example.test", message("digest", extra=b"List-Id: <news.origin.test>\r\n",
                                                 frm=b"News <news@origin.test>"), "news-bounces@origin.test")
        time.sleep(3)  # the relay retries every second: anything queued would be here
        self.assertEqual(len(self.peer.messages), before + 1, self.peer.messages[before + 1:])
        inbox = mailbox(self.d, "bob@example.test", "INBOX")
        self.assertIn("question 2", inbox)
        self.assertIn("digest", inbox)
        put_script(self.d, "bob@example.test", "keep;\r\n", name="plain")

    def test_unsupported_extension_refused_at_upload(self):
        err = put_script(self.d, "erin@example.test", 'require "editheader";\r\naddheader "X-A" "b";\r\n', name="eh")
        self.assertIsNotNone(err)
        self.assertIn("editheader", err)
        err = put_script(self.d, "erin@example.test", 'require "fileinto";\r\nfileint "x";\r\n', name="typo")
        self.assertIsNotNone(err)
        self.assertIn("2:1", err)


class BeforeScript(unittest.TestCase):
    def test_admin_script_runs_first(self):
        work = tempfile.mkdtemp(prefix="refmail-sieve-before-")
        path = os.path.join(work, "before.sieve")
        with open(path, "w") as f:
            f.write('require ["fileinto", "mailbox"];\r\nif header :is "X-Tag" "global" '
                    '{ fileinto :create "Tagged"; }\r\n')
        d = Daemon(extra_toml=PLAIN + '[sieve]\nbefore = "%s"\n' % path)
        try:
            d.add_user("bob@example.test", "bob-pw")
            self.assertIsNone(put_script(d, "bob@example.test", 'require "fileinto";\r\n'
                                                                'if header :contains "subject" "mine" '
                                                                '{ fileinto "Archive"; }\r\n'))
            send(d, "bob@example.test", message("mine tagged", extra=b"X-Tag: global\r\n"))
            send(d, "bob@example.test", message("mine only"))
            self.assertIn("mine tagged", mailbox(d, "bob@example.test", "Tagged"))
            self.assertNotIn("mine tagged", mailbox(d, "bob@example.test", "Archive"))
            self.assertIn("mine only", mailbox(d, "bob@example.test", "Archive"))
        finally:
            d.cleanup()
        # A before script that does not compile stops the daemon at start, with the reason.
        with open(path, "w") as f:
            f.write('if header :is "X" "y" { fileinto "z"; }\r\n')
        with self.assertRaises(RuntimeError) as e:
            Daemon(extra_toml=PLAIN + '[sieve]\nbefore = "%s"\n' % path)
        os.unlink(path)
        os.rmdir(work)


if __name__ == "__main__":
    main()

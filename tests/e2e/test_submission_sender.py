"""End-to-end: the sender policy of SMTP submission (issue #13 item 8, RFC 6409 6.1 and
8). An authenticated user may put in MAIL FROM, From: and Sender: only their own
address or an alias that delivers to them: another local user's address in From:
gets 550 5.7.1 and nothing is delivered; MAIL FROM:<> is refused. With
smtp.check_header_from = false only the envelope is checked; smtp.allow_any_sender
turns both off."""
import smtplib, unittest
from harness import Daemon, main


def message(frm, subject, sender=None):
    extra = f"Sender: {sender}\r\n" if sender else ""
    return (f"From: {frm}\r\n{extra}To: bob@example.test\r\nSubject: {subject}\r\n\r\nhello\r\n").encode()


class SubmissionSender(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(extra_toml="[smtp]\nplain_auth_on_loopback = true\n")
        cls.d.add_user("alice@example.test", "alice-pw")
        cls.d.add_user("bob@example.test", "bob-pw")
        cls.d.ctl("alias", "add", "sales@example.test", "alice@example.test")
        cls.d.ctl("alias", "add", "bobs@example.test", "bob@example.test")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def submit(self, mail_from, msg):
        s = smtplib.SMTP("127.0.0.1", self.d.ports["submission"], timeout=30)
        try:
            s.login("alice@example.test", "alice-pw")
            s.sendmail(mail_from, ["bob@example.test"], msg)
        finally:
            s.close()

    def inbox_count(self):
        return self.d.stats()["messages"]

    def test_own_address_and_own_alias_pass(self):
        self.submit("alice@example.test", message("Alice <alice@example.test>", "own"))
        self.submit("alice@example.test", message('"Sales" <SALES@example.test>', "alias",
                                                  sender="alice@example.test"))
        self.submit("sales@example.test", message("sales@example.test, alice@example.test", "both"))

    def test_another_local_users_from_is_refused(self):
        before = self.inbox_count()
        for frm, sender in (("bob@example.test", None),
                            ("Alice <alice@example.test>, bob@example.test", None),
                            ("bobs@example.test", None),                      # bob's alias
                            ("alice@example.test", "bob@example.test"),       # Sender: counts too
                            ("=?utf-8?q?Alice?= <someone@outside.test>", None)):
            with self.assertRaises(smtplib.SMTPDataError) as e:
                self.submit("alice@example.test", message(frm, "spoof", sender))
            self.assertEqual(e.exception.smtp_code, 550, frm)
            self.assertIn(b"5.7.1", e.exception.smtp_error)
            self.assertIn(b"From/Sender", e.exception.smtp_error)
        self.assertEqual(self.inbox_count(), before)  # nothing delivered

    def test_null_reverse_path_is_refused_when_authenticated(self):
        s = smtplib.SMTP("127.0.0.1", self.d.ports["submission"], timeout=30)
        try:
            s.login("alice@example.test", "alice-pw")
            code, text = s.mail("<>")
            self.assertEqual(code, 553, text)
            self.assertIn(b"5.7.1", text)
            code, _ = s.mail("alice@example.test")  # the session goes on
            self.assertEqual(code, 250)
        finally:
            s.close()
        # The MX port still takes bounces (no AUTH there).
        s = smtplib.SMTP("127.0.0.1", self.d.ports["smtp"], timeout=30)
        try:
            s.sendmail("<>", ["bob@example.test"], message("MAILER-DAEMON@outside.test", "bounce"))
        finally:
            s.quit()


class HeaderCheckOff(unittest.TestCase):
    def sends(self, smtp_toml, *envelopes_and_froms):
        """Each (MAIL FROM, From:) pair is submitted by alice on a daemon with these [smtp] keys."""
        d = Daemon(extra_toml="[smtp]\nplain_auth_on_loopback = true\n" + smtp_toml)
        try:
            d.add_user("alice@example.test", "alice-pw")
            d.add_user("bob@example.test", "bob-pw")
            s = smtplib.SMTP("127.0.0.1", d.ports["submission"], timeout=30)
            try:
                s.login("alice@example.test", "alice-pw")
                for mail_from, frm in envelopes_and_froms:
                    s.sendmail(mail_from, ["bob@example.test"], message(frm, "off"))
            finally:
                s.close()
        finally:
            d.cleanup()

    def test_check_header_from_false_checks_only_the_envelope(self):
        self.sends("check_header_from = false\n", ("alice@example.test", "bob@example.test"))
        with self.assertRaises(smtplib.SMTPSenderRefused):
            self.sends("check_header_from = false\n", ("bob@example.test", "bob@example.test"))

    def test_allow_any_sender(self):
        self.sends("allow_any_sender = true\n", ("<>", "bob@example.test"), ("bob@example.test", "bob@example.test"))


if __name__ == "__main__":
    main()

"""End-to-end: the hardening issue's crash and mail-loss bugs, against the real refmaild
with real clients (smtplib, raw sockets, urllib). A header that once aborted the daemon
now fails only its own delivery; an over-quota recipient is refused at RCPT when SIZE
is known and otherwise left out (the sender gets a DSN) while the others get the
message; uploads count against the quota; an unauthenticated request cannot make the
daemon read a large body; ambiguous HTTP framing is refused."""
import base64, os, smtplib, socket, unittest
from harness import Daemon, JmapClient, main, with_attachment


def raw_http(port, head, body=b"", read_timeout=10):
    """Sends `head` (and `body`); returns (status line, whole answer) read until the
    daemon closes (requests here say Connection: close or are refused)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=read_timeout)
    data = b""
    try:
        s.sendall(head + body)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    finally:
        s.close()
    return data.split(b"\r\n", 1)[0].decode(errors="replace"), data


class Hardening(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon()
        cls.d.add_user("alice@example.test", "pw-alice-123")
        cls.d.add_user("bob@example.test", "pw-bob-1234")
        cls.d.ctl("user", "add", "dave@example.test", "--quota", "1000000", "--password-stdin",
                  stdin="pw-dave-1234\n")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def smtp(self):
        s = smtplib.SMTP("127.0.0.1", self.d.ports["smtp"], timeout=60)
        s.ehlo("client.outside.test")
        return s

    def subjects(self, user, password):
        return JmapClient(self.d.ports["http"], user, password).subjects()

    def alive(self):
        self.assertIsNone(self.d.proc.poll(), "refmaild exited: " + self.d.tail())

    def test_bad_headers_fail_only_their_own_delivery(self):
        # Each once aborted the daemon (std::out_of_range from the header scanner).
        for value in (b"(\\", b"((a\\", b"text/plain; a=(\\"):
            s = self.smtp()
            s.mail("x@outside.test")
            s.rcpt("alice@example.test")
            code, _ = s.data(b"Subject: bad\r\nContent-Type: " + value + b"\r\n\r\nbody\r\n")
            self.assertIn(code, (250, 451), value)
            s.quit()
            self.alive()
        s = self.smtp()
        s.sendmail("x@outside.test", ["alice@example.test"], b"Subject: after the bad ones\r\n\r\nok\r\n")
        s.quit()
        self.assertIn("after the bad ones", self.subjects("alice@example.test", "pw-alice-123"))

    def test_quoted_local_part_is_unknown_not_a_temporary_failure(self):
        s = self.smtp()
        s.mail("x@outside.test")
        code, msg = s.rcpt('"x@y"@example.test')
        s.quit()
        self.assertEqual(code, 550, msg)
        self.assertIn(b"5.1.1", msg)

    def test_over_quota_recipient_refused_at_rcpt_when_size_is_known(self):
        msg = with_attachment("quota-size", os.urandom(2_000_000), "alice@example.test, dave@example.test")
        s = self.smtp()
        self.assertTrue(s.has_extn("size"))
        refused = s.sendmail("x@outside.test", ["alice@example.test", "dave@example.test"], msg)  # SIZE= sent
        s.quit()
        self.assertEqual(list(refused), ["dave@example.test"])
        self.assertEqual(refused["dave@example.test"][0], 552)
        self.assertIn("quota-size", self.subjects("alice@example.test", "pw-alice-123"))
        self.assertNotIn("quota-size", self.subjects("dave@example.test", "pw-dave-1234"))

    def test_over_quota_recipient_left_out_without_size_and_sender_told(self):
        msg = with_attachment("quota-nosize", os.urandom(2_000_000), "alice@example.test, dave@example.test",
                              frm="bob@example.test")
        s = self.smtp()
        s.mail("bob@example.test")  # no SIZE= parameter: the size is known only at the end
        self.assertEqual(s.rcpt("alice@example.test")[0], 250)
        self.assertEqual(s.rcpt("dave@example.test")[0], 250)
        code, reply = s.data(msg)
        s.quit()
        self.assertEqual(code, 250, reply)
        self.assertIn("quota-nosize", self.subjects("alice@example.test", "pw-alice-123"))
        self.assertNotIn("quota-nosize", self.subjects("dave@example.test", "pw-dave-1234"))
        bob = JmapClient(self.d.ports["http"], "bob@example.test", "pw-bob-1234")
        reports = [x for x in bob.subjects() if "quota-nosize" in (x or "")]
        self.assertTrue(reports, "bob got no failure report")
        # Only dave over quota and nobody else: the whole transaction is refused.
        s = self.smtp()
        s.mail("x@outside.test")
        s.rcpt("dave@example.test")
        code, _ = s.data(with_attachment("quota-only-dave", os.urandom(2_000_000), "dave@example.test"))
        s.quit()
        self.assertEqual(code, 552)
        out = self.d.ctl("fsck").stdout
        self.assertIn("no drift", out, out)

    def test_uploads_count_against_the_quota(self):
        dave = JmapClient(self.d.ports["http"], "dave@example.test", "pw-dave-1234")
        st, body, _ = dave.upload(os.urandom(2_500_000))
        self.assertEqual(st, 413, body)
        self.assertIn(b"overQuota", body)
        accepted = 0
        for _ in range(6):
            st, _, _ = dave.upload(os.urandom(300_000))
            if st == 201:
                accepted += 1
        self.assertEqual(accepted, 3)  # 3 x 300 kB fit in 1 MB (with nothing else stored), the 4th not

    def test_unauthenticated_large_body_is_not_read(self):
        port = self.d.ports["http"]
        # 60 MiB announced, nothing sent: the answer comes from the header alone.
        status, _ = raw_http(port, b"POST /jmap/api HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                   b"Content-Length: 62914560\r\n\r\n")
        self.assertIn(" 413 ", status)
        # Wrong credentials are not credentials.
        bad = base64.b64encode(b"alice@example.test:wrong").decode().encode()
        status, _ = raw_http(port, b"POST /jmap/upload/x/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " + bad +
                             b"\r\nContent-Length: 10000000\r\n\r\n")
        self.assertIn(" 413 ", status)
        # A small unauthenticated body is read and answered as before (401).
        status, _ = raw_http(port, b"POST /jmap/api HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                   b"Content-Length: 2\r\n\r\n", b"{}")
        self.assertIn(" 401 ", status)
        # An authenticated large upload still works.
        alice = JmapClient(port, "alice@example.test", "pw-alice-123")
        st, body, _ = alice.upload(os.urandom(3_000_000))
        self.assertEqual(st, 201, body)
        self.alive()

    def test_ambiguous_transfer_encoding_is_refused(self):
        port = self.d.ports["http"]
        for te in (b"chunked, identity", b"identity", b"gzip, chunked, identity"):
            status, data = raw_http(port, b"POST /api/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + te +
                                    b"\r\n\r\n0\r\n\r\n")
            self.assertIn(" 400 ", status, te)
            self.assertIn(b"transfer-encoding", data.lower())
        status, data = raw_http(port, b"POST /api/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                      b"Content-Length: 5\r\n\r\n0\r\n\r\n")
        self.assertIn(" 400 ", status)
        # A plain chunked body is read (the login answers for itself, not a framing error).
        status, data = raw_http(port, b"POST /api/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                      b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                                      b"2\r\n{}\r\n0\r\n\r\n")
        self.assertRegex(status, r" (400|401) ")
        self.assertNotIn(b"transfer-encoding", data.lower())


def bare_lf_reply(port):
    s = smtplib.SMTP("127.0.0.1", port, timeout=30)
    s.ehlo("client.outside.test")
    s.mail("x@outside.test")
    s.rcpt("alice@example.test")
    s.putcmd("DATA")
    s.getreply()
    s.send(b"Subject: bare\r\n\r\nline one\nline two\r\n.\r\n")  # one LF without CR
    code, msg = s.getreply()
    s.quit()
    return code, msg


class BareLf(unittest.TestCase):
    def test_reject_bare_lf_switch(self):
        for toml, want in (("", 250), ("[smtp]\nreject_bare_lf = true\n", 550)):
            d = Daemon(extra_toml=toml)
            try:
                d.add_user("alice@example.test", "pw-alice-123")
                code, msg = bare_lf_reply(d.ports["smtp"])
                self.assertEqual(code, want, msg)
                if want == 550:
                    self.assertIn(b"5.5.2", msg)
            finally:
                d.cleanup()


if __name__ == "__main__":
    main()

"""End-to-end: refmaild's SMTP listeners with real clients — smtplib (plain MX,
STARTTLS + AUTH on submission, implicit TLS on SMTPS), swaks (pipelining), a raw
socket (BDAT), openssl s_client (STARTTLS). Checks that attachments are stored once."""
import os, random, re, shutil, smtplib, socket, ssl, subprocess, time, unittest, urllib.request
from harness import Daemon, main, with_attachment


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Smtp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # No DNS answers here (a closed port): mail for foreign domains stays queued.
        cls.d = Daemon(extra_toml='[relay]\ndns_servers = ["127.0.0.1:9"]\n')
        cls.users = [f"u{i}@example.test" for i in range(10)]
        for u in cls.users:
            cls.d.add_user(u, "pw-" + u)

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def mx(self):
        s = smtplib.SMTP("127.0.0.1", self.d.ports["smtp"], timeout=30)
        s.ehlo("client.example.net")
        return s

    def test_ehlo_advertises_extensions(self):
        s = self.mx()
        for ext in ("pipelining", "size", "8bitmime", "smtputf8", "enhancedstatuscodes", "starttls",
                    "chunking", "dsn"):
            self.assertTrue(s.has_extn(ext), ext)
        self.assertFalse(s.has_extn("auth"), "AUTH must not be offered before TLS")
        s.quit()

    def test_ten_recipients_store_the_attachment_once(self):
        payload = random.Random(1).randbytes(1 << 20)
        s0 = self.d.stats()
        s = self.mx()
        refused = s.sendmail("x@outside.test", self.users, with_attachment("ten", payload, self.users[0]))
        s.quit()
        self.assertEqual(refused, {})
        s1 = self.d.stats()
        self.assertGreaterEqual(s1["logical_bytes"] - s0["logical_bytes"], 10 * len(payload))
        self.assertLess(s1["physical_bytes"] - s0["physical_bytes"], 1.1 * len(payload))
        self.assertEqual(s1["messages"] - s0["messages"], 1)
        self.assertEqual(s1["mailbox_rows"] - s0["mailbox_rows"], 10)
        # The same file again, at 64 columns under another name, adds no blob bytes.
        s = self.mx()
        s.sendmail("y@outside.test", [self.users[1]],
                   with_attachment("again", payload, self.users[1], line=64, name="copy.pdf"))
        s.quit()
        s2 = self.d.stats()
        self.assertEqual(s2["blobs"], s1["blobs"])
        self.assertLess(s2["physical_bytes"] - s1["physical_bytes"], 16 * 1024)
        # The SMTP counters reach /metrics (Prometheus text).
        with urllib.request.urlopen(f"http://127.0.0.1:{self.d.ports['http']}/metrics", timeout=30) as r:
            metrics = r.read().decode()
        m = re.search(r'^refmail_smtp_messages_total\{listener="mx"\} (\d+)$', metrics, re.M)
        self.assertIsNotNone(m, metrics[:500])
        self.assertGreaterEqual(int(m.group(1)), 2)

    def test_unknown_user_and_relay_are_refused(self):
        s = self.mx()
        s.mail("x@outside.test")
        code, msg = s.rcpt("nobody@example.test")
        self.assertEqual(code, 550)
        self.assertIn(b"5.1.1", msg)
        code, msg = s.rcpt("victim@elsewhere.test")
        self.assertEqual(code, 554)
        self.assertIn(b"5.7.1", msg)
        s.quit()

    def test_submission_starttls_auth(self):
        s = smtplib.SMTP("127.0.0.1", self.d.ports["submission"], timeout=30)
        s.ehlo("client")
        self.assertFalse(s.has_extn("auth"))
        s.starttls(context=tls_ctx())
        s.ehlo("client")
        self.assertTrue(s.has_extn("auth"))
        with self.assertRaises(smtplib.SMTPAuthenticationError):
            s.login(self.users[0], "wrong")
        s.login(self.users[0], "pw-" + self.users[0])
        before = self.d.stats()
        s.sendmail(self.users[0], [self.users[1]], b"Subject: hi\r\n\r\nhello\r\n")
        # Sending as someone else is refused (553 5.7.1).
        with self.assertRaises(smtplib.SMTPSenderRefused) as cm:
            s.sendmail(self.users[2], [self.users[1]], b"Subject: forged\r\n\r\nx\r\n")
        self.assertEqual(cm.exception.smtp_code, 553)
        s.quit()
        after = self.d.stats()
        # One INBOX row for the recipient, one Sent row for the sender.
        self.assertEqual(after["mailbox_rows"] - before["mailbox_rows"], 2)

    def test_submission_requires_auth(self):
        s = smtplib.SMTP("127.0.0.1", self.d.ports["submission"], timeout=30)
        s.starttls(context=tls_ctx())
        s.ehlo("client")
        code, _ = s.mail(self.users[0])
        self.assertEqual(code, 530)
        s.quit()

    def test_smtps_implicit_tls_auth_login_and_relay_queue(self):
        s = smtplib.SMTP_SSL("127.0.0.1", self.d.ports["smtps"], timeout=30, context=tls_ctx())
        s.ehlo("client")
        s.login(self.users[3], "pw-" + self.users[3])  # smtplib picks PLAIN; LOGIN below
        before = self.d.stats()
        refused = s.sendmail(self.users[3], ["friend@elsewhere.test", self.users[4]],
                             b"Subject: out\r\n\r\nto the world\r\n")
        self.assertEqual(refused, {})
        s.quit()
        after = self.d.stats()
        self.assertEqual(after["messages"] - before["messages"], 1)
        self.assertEqual(after["queue_size"] - before["queue_size"], 1, "one relay row for elsewhere.test")
        s = smtplib.SMTP_SSL("127.0.0.1", self.d.ports["smtps"], timeout=30, context=tls_ctx())
        s.ehlo("client")
        s.user, s.password = self.users[3], "pw-" + self.users[3]
        code, _ = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
        self.assertEqual(code, 235)
        s.quit()

    def test_swaks_pipelining(self):
        if not shutil.which("swaks"):
            self.skipTest("swaks not installed")
        r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(self.d.ports["smtp"]),
                            "--from", "p@outside.test", "--to", self.users[5], "--pipeline",
                            "--header", "Subject: pipelined", "--body", "hello"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("250 2.0.0", r.stdout)

    def test_bdat_raw_socket(self):
        with socket.create_connection(("127.0.0.1", self.d.ports["smtp"]), timeout=30) as c:
            f = c.makefile("rb")

            def reply():
                lines = []
                while True:
                    line = f.readline()
                    lines.append(line)
                    if line[3:4] != b"-":
                        return b"".join(lines)

            self.assertTrue(reply().startswith(b"220"))
            c.sendall(b"EHLO raw.example\r\n")
            self.assertIn(b"CHUNKING", reply())
            body1 = b"Subject: bdat\r\n\r\nfirst chunk "
            body2 = b"and the last one\r\n"
            c.sendall(b"MAIL FROM:<raw@outside.test>\r\nRCPT TO:<" + self.users[6].encode() + b">\r\n")
            self.assertTrue(reply().startswith(b"250"))
            self.assertTrue(reply().startswith(b"250"))
            c.sendall(b"BDAT %d\r\n" % len(body1) + body1)
            self.assertTrue(reply().startswith(b"250"))
            c.sendall(b"BDAT %d LAST\r\n" % len(body2) + body2)
            self.assertIn(b"250 2.0.0", reply())
            c.sendall(b"QUIT\r\n")
            self.assertTrue(reply().startswith(b"221"))

    def test_openssl_starttls(self):
        r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.d.ports['smtp']}",
                            "-starttls", "smtp", "-quiet"], input=b"EHLO tls.example\r\nQUIT\r\n",
                           capture_output=True, timeout=60)
        out = r.stdout.decode(errors="replace")
        self.assertIn("250", out)
        self.assertIn("221", out)

    def test_tls_garbage_is_a_clean_close(self):
        with socket.create_connection(("127.0.0.1", self.d.ports["smtps"]), timeout=30) as c:
            c.sendall(os.urandom(300))
            c.settimeout(30)
            try:
                while c.recv(4096):
                    pass
            except ConnectionResetError:
                pass
        s = self.mx()  # the daemon is still serving
        s.quit()

    def test_oversized_message_is_refused_nothing_stored(self):
        s = self.mx()
        limit = int(s.esmtp_features["size"])
        before = self.d.stats()
        code, _ = s.mail("x@outside.test", ["SIZE=%d" % (limit + 1)])
        self.assertEqual(code, 552)
        s.quit()
        self.assertEqual(self.d.stats()["messages"], before["messages"])


class Limits(unittest.TestCase):
    """Limits from the config, seen from the network."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(extra_toml="[limits]\nconnections_per_ip = 2\nread_timeout = 2\n")
        cls.d.add_user("l@example.test", "pw-l-1")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def greeting(self, sock):
        sock.settimeout(10)
        return sock.recv(4096)

    def test_per_ip_connection_limit(self):
        a = socket.create_connection(("127.0.0.1", self.d.ports["smtp"]))
        b = socket.create_connection(("127.0.0.1", self.d.ports["smtp"]))
        try:
            self.assertTrue(self.greeting(a).startswith(b"220"))
            self.assertTrue(self.greeting(b).startswith(b"220"))
            with socket.create_connection(("127.0.0.1", self.d.ports["smtp"])) as c:
                self.assertTrue(self.greeting(c).startswith(b"421 4.7.0"))
        finally:
            a.close()
            b.close()
        time.sleep(0.3)
        with socket.create_connection(("127.0.0.1", self.d.ports["smtp"])) as c:
            self.assertTrue(self.greeting(c).startswith(b"220"), "slots are given back on close")

    def test_read_deadline_closes_a_silent_client(self):
        with socket.create_connection(("127.0.0.1", self.d.ports["smtp"])) as c:
            self.assertTrue(self.greeting(c).startswith(b"220"))
            t0 = time.time()
            data = b""
            while True:
                chunk = c.recv(4096)
                if not chunk:
                    break
                data += chunk
            self.assertIn(b"421 4.4.2", data)
            self.assertLess(time.time() - t0, 10)

    def test_disconnect_mid_data_stores_nothing(self):
        before = self.d.stats()
        with socket.create_connection(("127.0.0.1", self.d.ports["smtp"])) as c:
            f = c.makefile("rb")
            f.readline()
            c.sendall(b"HELO x\r\nMAIL FROM:<a@outside.test>\r\nRCPT TO:<l@example.test>\r\nDATA\r\n")
            for _ in range(4):
                f.readline()
            c.sendall(b"Subject: cut\r\n\r\nhalf a message")
        time.sleep(0.5)
        after = self.d.stats()
        self.assertEqual(after["messages"], before["messages"])
        self.assertEqual(after["physical_bytes"], before["physical_bytes"])


class Durability(unittest.TestCase):
    def test_acknowledged_message_survives_kill9(self):
        d = Daemon()
        try:
            d.add_user("k@example.test", "pw-k-1")
            s = smtplib.SMTP("127.0.0.1", d.ports["smtp"], timeout=30)
            s.sendmail("a@outside.test", ["k@example.test"], b"Subject: durable\r\n\r\nbody\r\n")
            before = d.stats()
            d.kill9()
            d.start()
            after = d.stats()
            self.assertEqual(after["messages"], before["messages"])
            self.assertEqual(after["mailbox_rows"], before["mailbox_rows"])
            self.assertIn("no drift", d.ctl("fsck").stdout)
        finally:
            d.cleanup()

    def test_sigterm_drains_an_idle_session(self):
        d = Daemon()
        try:
            s = smtplib.SMTP("127.0.0.1", d.ports["smtp"], timeout=30)
            s.ehlo("idle")
            t0 = time.time()
            self.assertEqual(d.stop(), 0)
            self.assertLess(time.time() - t0, 10)
        finally:
            d.cleanup()


if __name__ == "__main__":
    main()

"""End-to-end: refmaild's IMAP listeners (issue 16, item 4) with Python's imaplib and raw
sockets: the greeting and CAPABILITY, LOGIN in plaintext on loopback (when
smtp.plain_auth_on_loopback allows it) or refused with LOGINDISABLED / PRIVACYREQUIRED,
STARTTLS, implicit TLS on the imaps port, wrong passwords (NO [AUTHENTICATIONFAILED],
three end the session), LOGOUT, the deadlines ("* BYE Autologout"), IDLE, the per-address
connection limit, PROXY v2 from a trusted peer, the drain on SIGTERM, and the metrics; through the mailbox layer
(imap/mailbox): new mail shown to an IDLE client within a second, a message larger than
one literal chunk fetched whole, APPEND streamed into the store."""
import imaplib, os, re, select, signal, smtplib, socket, ssl, time, unittest, urllib.request, zlib
from harness import Daemon, main, with_attachment
from test_proxy import proxy_v2


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def connect(port, src="127.0.0.1", timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def read_line(s):
    """One CRLF-terminated line as text, or what came before the server closed."""
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = s.recv(1)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def until_tagged(s, tag):
    """Every line up to and including the tagged response `tag`, or up to the close."""
    lines = []
    while True:
        line = read_line(s)
        if not line:
            return lines
        lines.append(line)
        if line.startswith(tag + " "):
            return lines


def until_closed(s, timeout):
    """Everything the server sends until it closes, or "<still open>" after `timeout`."""
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        return data.decode(errors="replace") + "<still open>"
    except ConnectionResetError:
        pass
    return data.decode(errors="replace")


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
        return r.read().decode()


def metric(text, series):
    m = re.search("^" + re.escape(series) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


class ImapLoopback(unittest.TestCase):
    """smtp.plain_auth_on_loopback = true: LOGIN without TLS from 127.0.0.1."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(extra_toml="[smtp]\nplain_auth_on_loopback = true\n")
        cls.d.add_user("alice@example.test", "alice-imap-pw")
        cls.d.add_user("bob@example.test", "bob-imap-pw")
        cls.d.add_user("carol@example.test", "carol-imap-pw")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def imap(self):
        return imaplib.IMAP4("127.0.0.1", self.d.ports["imap"], timeout=30)

    def test_greeting_and_capability(self):
        m = self.imap()
        try:
            self.assertTrue(m.welcome.startswith(b"* OK [CAPABILITY IMAP4rev1 IMAP4rev2"), m.welcome)
            typ, data = m.capability()
            self.assertEqual(typ, "OK")
            caps = data[0].decode().split()
            for c in ("IMAP4rev2", "STARTTLS", "AUTH=PLAIN", "IDLE", "ID", "ENABLE", "NAMESPACE"):
                self.assertIn(c, caps)
            self.assertNotIn("LOGINDISABLED", caps)
            self.assertEqual(m.noop()[0], "OK")
        finally:
            m.logout()

    def test_plaintext_login_on_loopback_and_logout(self):
        m = self.imap()
        typ, data = m.login("alice@example.test", "alice-imap-pw")
        self.assertEqual(typ, "OK")
        self.assertIn(b"Logged in", data[0])
        typ, data = m.capability()
        self.assertNotIn("AUTH=PLAIN", data[0].decode().split())  # only before login
        typ, _ = m.logout()
        self.assertEqual(typ, "BYE")
        self.assertIn("imap.login listener=imap peer=127.0.0.1 user=alice@example.test mechanism=LOGIN tls=no",
                      self.d.tail(400))

    def test_authenticate_plain(self):
        m = self.imap()
        try:
            typ, _ = m.authenticate("PLAIN", lambda _: b"\0bob@example.test\0bob-imap-pw")
            self.assertEqual(typ, "OK")
        finally:
            m.logout()

    def test_starttls_then_login(self):
        m = self.imap()
        try:
            typ, _ = m.starttls(ssl_context=tls_ctx())
            self.assertEqual(typ, "OK")
            caps = m.capability()[1][0].decode().split()
            self.assertNotIn("STARTTLS", caps)
            self.assertIn("AUTH=PLAIN", caps)
            self.assertEqual(m.login("alice@example.test", "alice-imap-pw")[0], "OK")
            self.assertEqual(m.noop()[0], "OK")
        finally:
            m.logout()
        self.assertIn("user=alice@example.test mechanism=LOGIN tls=yes", self.d.tail(400))

    def test_imaps_implicit_tls_login(self):
        m = imaplib.IMAP4_SSL("127.0.0.1", self.d.ports["imaps"], ssl_context=tls_ctx(), timeout=30)
        try:
            self.assertTrue(m.welcome.startswith(b"* OK"), m.welcome)
            caps = m.capability()[1][0].decode().split()
            self.assertNotIn("STARTTLS", caps)
            self.assertIn("AUTH=PLAIN", caps)
            self.assertEqual(m.login("bob@example.test", "bob-imap-pw")[0], "OK")
        finally:
            m.logout()
        self.assertIn("imap.login listener=imaps", self.d.tail(400))

    def test_wrong_password_is_authenticationfailed_and_connection_stays(self):
        m = self.imap()
        try:
            with self.assertRaises(imaplib.IMAP4.error) as e:
                m.login("bob@example.test", "not bob's password")
            self.assertIn("[AUTHENTICATIONFAILED]", str(e.exception))
            self.assertEqual(m.noop()[0], "OK")
            self.assertEqual(m.login("bob@example.test", "bob-imap-pw")[0], "OK")
        finally:
            m.logout()

    def test_three_failures_end_the_session(self):
        s = connect(self.d.ports["imap"])
        try:
            self.assertTrue(read_line(s).startswith("* OK"))
            answers = []
            for i in range(3):
                s.sendall(f"a{i} LOGIN carol@example.test wrong-{i}\r\n".encode())
                answers.append(until_tagged(s, f"a{i}"))
            for a in answers:
                self.assertRegex(a[-1], r"^a\d NO \[AUTHENTICATIONFAILED\]")
            rest = until_closed(s, 20)
            self.assertIn("* BYE", rest)
            self.assertNotIn("<still open>", rest)
        finally:
            s.close()
        self.assertIn("imap.auth_failed listener=imap peer=127.0.0.1 user=carol@example.test", self.d.tail(400))
        self.assertGreaterEqual(metric(scrape(self.d.ports["http"]), 'refmail_auth_failures_total{protocol="imap"}'), 3)

    def test_select_after_login_leaves_the_connection_usable(self):
        m = self.imap()
        try:
            self.assertEqual(m.login("alice@example.test", "alice-imap-pw")[0], "OK")
            typ, _ = m.select("INBOX")
            self.assertIn(typ, ("OK", "NO"))
            typ, _ = m.list()
            self.assertIn(typ, ("OK", "NO"))
            self.assertEqual(m.noop()[0], "OK")
        finally:
            m.logout()

    def test_idle_then_done(self):
        s = connect(self.d.ports["imap"])
        try:
            read_line(s)
            s.sendall(b"a1 LOGIN alice@example.test alice-imap-pw\r\n")
            self.assertRegex(until_tagged(s, "a1")[-1], r"^a1 OK")
            s.sendall(b"a2 SELECT INBOX\r\n")
            self.assertRegex(until_tagged(s, "a2")[-1], r"^a2 (OK|NO)")
            s.sendall(b"a3 IDLE\r\n")
            self.assertTrue(read_line(s).startswith("+ "))
            time.sleep(1.2)  # a few polls of the mailbox layer while idling
            s.sendall(b"DONE\r\n")
            self.assertRegex(until_tagged(s, "a3")[-1], r"^a3 OK")
            s.sendall(b"a4 LOGOUT\r\n")
            lines = until_tagged(s, "a4")
            self.assertTrue(any(line.startswith("* BYE") for line in lines), lines)
        finally:
            s.close()

    def test_metrics(self):
        m = self.imap()
        m.login("alice@example.test", "alice-imap-pw")
        m.select("INBOX")
        m.logout()
        text = scrape(self.d.ports["http"])
        self.assertGreaterEqual(metric(text, 'refmail_imap_mailbox_requests_total{listener="imap"}'), 1)
        self.assertGreaterEqual(metric(text, 'refmail_imap_sessions_total{listener="imap"}'), 1)
        self.assertGreaterEqual(metric(text, 'refmail_imap_logins_total{listener="imap"}'), 1)
        self.assertIsNotNone(metric(text, 'refmail_imap_sessions_total{listener="imaps"}'))
        self.assertIsNotNone(metric(text, 'refmail_imap_mailbox_requests_total{listener="imap"}'))
        self.assertEqual(metric(text, 'refmail_imap_timeouts_total{listener="imaps",deadline="login"}'), 0)


class ImapStrict(unittest.TestCase):
    """The defaults: no plaintext credentials, even from loopback."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon()
        cls.d.add_user("alice@example.test", "alice-imap-pw")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_plaintext_login_is_refused_until_starttls(self):
        m = imaplib.IMAP4("127.0.0.1", self.d.ports["imap"], timeout=30)
        try:
            caps = m.capability()[1][0].decode().split()
            self.assertIn("LOGINDISABLED", caps)
            self.assertIn("STARTTLS", caps)
            self.assertNotIn("AUTH=PLAIN", caps)
            with self.assertRaises(imaplib.IMAP4.error) as e:
                m.login("alice@example.test", "alice-imap-pw")
            self.assertIn("[PRIVACYREQUIRED]", str(e.exception))
            self.assertEqual(m.starttls(ssl_context=tls_ctx())[0], "OK")
            caps = m.capability()[1][0].decode().split()
            self.assertNotIn("LOGINDISABLED", caps)
            self.assertEqual(m.login("alice@example.test", "alice-imap-pw")[0], "OK")
        finally:
            m.logout()

    def test_imaps_login(self):
        m = imaplib.IMAP4_SSL("127.0.0.1", self.d.ports["imaps"], ssl_context=tls_ctx(), timeout=30)
        try:
            self.assertEqual(m.login("alice@example.test", "alice-imap-pw")[0], "OK")
        finally:
            m.logout()

    def test_a_failed_tls_handshake_closes_only_that_connection(self):
        s = connect(self.d.ports["imaps"])
        try:
            s.sendall(b"a1 CAPABILITY\r\n" * 4)  # plaintext on the TLS port
            self.assertNotIn("<still open>", until_closed(s, 15))
        finally:
            s.close()
        self.assertIn("imap.tls_failed listener=imaps peer=127.0.0.1", self.d.tail(400))
        self.test_imaps_login()

    def test_commands_pipelined_after_starttls_are_dropped(self):
        # CVE-2011-0411: plaintext bytes sent after STARTTLS are never run inside TLS.
        s = connect(self.d.ports["imap"])
        try:
            read_line(s)
            s.sendall(b"a1 STARTTLS\r\na2 LOGIN alice@example.test alice-imap-pw\r\n")
            self.assertRegex(until_tagged(s, "a1")[-1], r"^a1 OK")
            t = tls_ctx().wrap_socket(s, server_hostname="localhost")
            t.sendall(b"a3 NOOP\r\n")
            lines = until_tagged(t, "a3")
            self.assertFalse(any(line.startswith("a2") for line in lines), lines)
            self.assertRegex(lines[-1], r"^a3 OK")
            t.close()
        finally:
            s.close()


class ImapDeadlinesAndLimits(unittest.TestCase):
    """Short deadlines and a small per-address budget."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(extra_toml="[smtp]\nplain_auth_on_loopback = true\n"
                                  "[limits]\nimap_login_timeout = 2\nimap_idle_timeout = 3\nimap_command_timeout = 2\n"
                                  "connections_per_ip = 3\n")
        cls.d.add_user("alice@example.test", "alice-imap-pw")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_silent_client_before_login_is_logged_out(self):
        s = connect(self.d.ports["imap"], "127.0.0.21")
        try:
            self.assertTrue(read_line(s).startswith("* OK"))
            t0 = time.time()
            rest = until_closed(s, 15)
            self.assertIn("* BYE Autologout; idle too long", rest)
            self.assertGreaterEqual(time.time() - t0, 1.5)
        finally:
            s.close()
        self.assertIn("imap.timeout listener=imap peer=127.0.0.21 state=NotAuthenticated deadline=login",
                      self.d.tail(400))

    def test_dripping_a_command_does_not_hold_the_connection(self):
        # One byte every 0.4 s: were each read to restart the 2 s command deadline, the
        # 10 bytes would take 4 s; the BYE comes 2 s after the first byte instead.
        s = connect(self.d.ports["imap"], "127.0.0.22")
        try:
            read_line(s)
            sent = 0
            for ch in b"a1 CAPABI":
                readable, _, _ = select.select([s], [], [], 0.4)
                if readable:
                    break
                s.sendall(bytes([ch]))
                sent += 1
            rest = until_closed(s, 10)
            self.assertIn("* BYE Autologout; idle too long", rest)
            self.assertLess(sent, 9)
        finally:
            s.close()
        self.assertIn("imap.timeout listener=imap peer=127.0.0.22 state=NotAuthenticated deadline=command",
                      self.d.tail(400))

    def test_logged_in_client_and_idle_client_are_logged_out(self):
        for idle in (False, True):
            s = connect(self.d.ports["imap"], "127.0.0.23")
            try:
                read_line(s)
                s.sendall(b"a1 LOGIN alice@example.test alice-imap-pw\r\n")
                self.assertRegex(until_tagged(s, "a1")[-1], r"^a1 OK")
                if idle:
                    s.sendall(b"a2 IDLE\r\n")
                    self.assertTrue(read_line(s).startswith("+ "))
                t0 = time.time()
                rest = until_closed(s, 20)
                self.assertIn("* BYE Autologout; idle too long", rest)
                # The 500 ms polls while idling do not postpone the 3 s autologout.
                self.assertGreaterEqual(time.time() - t0, 2.5)
                self.assertLess(time.time() - t0, 10)
            finally:
                s.close()
        text = scrape(self.d.ports["http"])
        self.assertGreaterEqual(metric(text, 'refmail_imap_timeouts_total{listener="imap",deadline="idle"}'), 1)
        self.assertGreaterEqual(metric(text, 'refmail_imap_timeouts_total{listener="imap",deadline="autologout"}'), 1)

    def test_flood_beyond_the_per_address_limit_is_refused(self):
        held = []
        try:
            for _ in range(3):
                s = connect(self.d.ports["imap"], "127.0.0.24")
                self.assertTrue(read_line(s).startswith("* OK"))
                held.append(s)
            extra = connect(self.d.ports["imap"], "127.0.0.24")
            rest = until_closed(extra, 10)
            extra.close()
            self.assertTrue(rest.startswith("* BYE Too many connections"), rest)
            # imaps is refused too (closed before the TLS handshake), and another address
            # is still served.
            extra = connect(self.d.ports["imaps"], "127.0.0.24")
            self.assertEqual(until_closed(extra, 10), "")
            extra.close()
            other = connect(self.d.ports["imap"], "127.0.0.25")
            self.assertTrue(read_line(other).startswith("* OK"))
            other.close()
        finally:
            for s in held:
                s.close()
        self.assertIn("imap.refused listener=imap peer=127.0.0.24", self.d.tail(400))
        text = scrape(self.d.ports["http"])
        self.assertGreaterEqual(
            metric(text, 'refmail_connections_refused_total{listener="imap",reason="per-address limit"}'), 1)


class ImapMailbox(unittest.TestCase):
    """The listener's side of the mailbox commands: IDLE polls, streamed literals, APPEND."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(extra_toml="[smtp]\nplain_auth_on_loopback = true\n")
        cls.d.add_user("alice@example.test", "alice-imap-pw")
        cls.d.add_user("dora@example.test", "dora-imap-pw")
        cls.d.add_user("erin@example.test", "erin-imap-pw")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def send(self, to, msg):
        with smtplib.SMTP("127.0.0.1", self.d.ports["smtp"], timeout=30) as s:
            s.sendmail("sender@outside.test", [to], msg)

    def idle_sees_new_mail(self, s, user, password):
        read_line(s)
        s.sendall(f"a1 LOGIN {user} {password}\r\n".encode())
        self.assertRegex(until_tagged(s, "a1")[-1], r"^a1 OK")
        s.sendall(b"a2 SELECT INBOX\r\n")
        lines = until_tagged(s, "a2")
        self.assertRegex(lines[-1], r"^a2 OK")
        exists = [int(m.group(1)) for m in (re.match(r"^\* (\d+) EXISTS", x) for x in lines) if m]
        self.assertEqual(len(exists), 1, lines)
        s.sendall(b"a3 IDLE\r\n")
        self.assertTrue(read_line(s).startswith("+ "))
        time.sleep(0.7)  # past the first polls: the next one must find the message
        self.send(user, f"From: sender@outside.test\r\nTo: {user}\r\nSubject: idle\r\n\r\nNew mail.\r\n".encode())
        t0 = time.time()  # the 250 came: the message is committed
        s.settimeout(5)
        line = read_line(s)
        elapsed = time.time() - t0
        self.assertEqual(line.strip(), f"* {exists[0] + 1} EXISTS")
        self.assertLess(elapsed, 1.0)
        s.sendall(b"DONE\r\n")
        self.assertRegex(until_tagged(s, "a3")[-1], r"^a3 OK")
        s.sendall(b"a4 LOGOUT\r\n")
        until_tagged(s, "a4")

    def test_idle_shows_new_mail_within_a_second(self):
        s = connect(self.d.ports["imap"])
        try:
            self.idle_sees_new_mail(s, "dora@example.test", "dora-imap-pw")
        finally:
            s.close()

    def test_idle_over_tls_shows_new_mail_within_a_second(self):
        # The read stays pending inside TLS while the update is written beside it.
        s = tls_ctx().wrap_socket(connect(self.d.ports["imaps"]), server_hostname="localhost")
        try:
            self.idle_sees_new_mail(s, "erin@example.test", "erin-imap-pw")
        finally:
            s.close()

    def test_many_idle_clients_see_one_delivery(self):
        # 16 sessions of one account idle at once, half of them inside TLS.
        socks = []
        try:
            for i in range(16):
                s = connect(self.d.ports["imaps" if i % 2 else "imap"])
                if i % 2:
                    s = tls_ctx().wrap_socket(s, server_hostname="localhost")
                read_line(s)
                s.sendall(b"a1 LOGIN erin@example.test erin-imap-pw\r\na2 SELECT INBOX\r\n")
                until_tagged(s, "a1")
                lines = until_tagged(s, "a2")
                self.assertRegex(lines[-1], r"^a2 OK")
                n = [int(m.group(1)) for m in (re.match(r"^\* (\d+) EXISTS", x) for x in lines) if m][0]
                s.sendall(b"a3 IDLE\r\n")
                self.assertTrue(read_line(s).startswith("+ "))
                socks.append(s)
            self.send("erin@example.test", b"From: sender@outside.test\r\nTo: erin@example.test\r\n"
                                           b"Subject: to all\r\n\r\nHello.\r\n")
            t0 = time.time()
            for s in socks:
                s.settimeout(5)
                self.assertEqual(read_line(s).strip(), f"* {n + 1} EXISTS")
            self.assertLess(time.time() - t0, 1.5)
            for s in socks:
                s.sendall(b"DONE\r\na4 LOGOUT\r\n")
                self.assertRegex(until_tagged(s, "a4")[-1], r"^a4 OK")
        finally:
            for s in socks:
                s.close()

    def test_compress_deflate(self):
        # RFC 4978: after "OK DEFLATE active" both directions are raw deflate; the command
        # pipelined behind COMPRESS is already compressed.
        self.send("alice@example.test", b"From: sender@outside.test\r\nTo: alice@example.test\r\n"
                                        b"Subject: compressed\r\n\r\n" + b"Squeeze me.\r\n" * 2000)
        s = connect(self.d.ports["imap"])
        try:
            read_line(s)
            s.sendall(b"a1 LOGIN alice@example.test alice-imap-pw\r\n")
            caps = until_tagged(s, "a1")[-1]
            self.assertIn("COMPRESS=DEFLATE", caps)
            out = zlib.compressobj(wbits=-15)
            inflate = zlib.decompressobj(wbits=-15)
            s.sendall(b"a2 COMPRESS DEFLATE\r\n" + out.compress(b"a3 NOOP\r\n") + out.flush(zlib.Z_SYNC_FLUSH))
            self.assertRegex(until_tagged(s, "a2")[-1], r"^a2 OK")
            got = b""

            def until(tag):
                """The inflated responses up to and including the tagged one."""
                nonlocal got
                pattern = rb"(^|\r\n)" + tag + rb" [A-Z]+[^\r\n]*\r\n"
                while not (m := re.search(pattern, got)):
                    chunk = s.recv(65536)
                    self.assertTrue(chunk, got[-300:])
                    got += inflate.decompress(chunk)
                text, got = got[:m.end()], got[m.end():]
                return text

            self.assertRegex(until(b"a3"), rb"a3 OK")
            s.sendall(out.compress(b"a4 SELECT INBOX\r\na5 FETCH * (BODY.PEEK[])\r\n") + out.flush(zlib.Z_SYNC_FLUSH))
            self.assertRegex(until(b"a4"), rb"a4 OK")
            text = until(b"a5")
            self.assertIn(b"Subject: compressed", text)
            self.assertEqual(text.count(b"Squeeze me."), 2000)
            self.assertRegex(text, rb"a5 OK")
            # An APPEND literal inside the compressed stream (LITERAL+, no "+" to wait for).
            msg = b"From: alice@example.test\r\nSubject: deflated append\r\n\r\n" + b"x" * 300000 + b"\r\n"
            s.sendall(out.compress(b"a6 APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
                      + out.flush(zlib.Z_SYNC_FLUSH))
            self.assertRegex(until(b"a6"), rb"a6 OK \[APPENDUID")
            s.sendall(out.compress(b"a7 LOGOUT\r\n") + out.flush(zlib.Z_SYNC_FLUSH))
            self.assertIn(b"* BYE", until(b"a7"))
        finally:
            s.close()

    def test_a_corrupt_deflate_stream_closes_the_connection(self):
        s = connect(self.d.ports["imap"])
        try:
            read_line(s)
            s.sendall(b"a1 LOGIN alice@example.test alice-imap-pw\r\na2 COMPRESS DEFLATE\r\n")
            self.assertRegex(until_tagged(s, "a2")[-1], r"^a2 OK")
            s.sendall(b"\xff" * 64)  # not a deflate stream
            self.assertNotIn("<still open>", until_closed(s, 15))
        finally:
            s.close()
        self.assertIn("imap.compress_failed listener=imap peer=127.0.0.1", self.d.tail(400))

    def test_fetch_streams_a_message_larger_than_a_literal_chunk(self):
        payload = os.urandom(300 * 1024)
        self.send("alice@example.test", with_attachment("big one", payload, "alice@example.test"))
        m = imaplib.IMAP4("127.0.0.1", self.d.ports["imap"], timeout=30)
        try:
            m.login("alice@example.test", "alice-imap-pw")
            typ, data = m.select("INBOX")
            self.assertEqual(typ, "OK")
            n = int(data[0])
            typ, data = m.fetch(str(n), "(RFC822.SIZE BODY.PEEK[])")
            self.assertEqual(typ, "OK")
            head, body = data[0]
            size = int(re.search(rb"RFC822\.SIZE (\d+)", head).group(1))
            self.assertGreater(size, 400 * 1024)
            self.assertEqual(len(body), size)
            self.assertIn(b"Subject: big one", body)
            self.assertIn(b"--b1--", body)
            self.assertEqual(m.noop()[0], "OK")
        finally:
            m.logout()

    def test_append_then_fetch(self):
        msg = (b"From: alice@example.test\r\nTo: alice@example.test\r\nSubject: appended\r\n\r\n"
               + b"line of an appended message\r\n" * 5000)
        m = imaplib.IMAP4("127.0.0.1", self.d.ports["imap"], timeout=30)
        try:
            m.login("alice@example.test", "alice-imap-pw")
            typ, data = m.append("INBOX", "(\\Seen)", None, msg)
            self.assertEqual(typ, "OK", data)
            typ, data = m.select("INBOX")
            n = int(data[0])
            typ, data = m.fetch(str(n), "(FLAGS BODY.PEEK[])")
            self.assertEqual(typ, "OK")
            self.assertIn(b"\\Seen", data[0][0])
            self.assertEqual(data[0][1], msg)
        finally:
            m.logout()


class ImapProxyProtocol(unittest.TestCase):
    """[proxy] proxy_protocol = ["imap"]: a trusted peer (127.0.0.1) opens with a PROXY v2
    header; the client it names is the peer, never loopback."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(extra_toml='[smtp]\nplain_auth_on_loopback = true\n'
                                  '[proxy]\ntrusted = ["127.0.0.1"]\nproxy_protocol = ["imap"]\n')

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_the_carried_client_is_the_peer_and_not_loopback(self):
        s = connect(self.d.ports["imap"])
        try:
            s.sendall(proxy_v2("203.0.113.9", dport=143))
            greeting = read_line(s)
            self.assertTrue(greeting.startswith("* OK"), greeting)
            self.assertIn("LOGINDISABLED", greeting)
            self.assertNotIn("AUTH=PLAIN", greeting)
        finally:
            s.close()
        self.assertIn("imap.proxied listener=imap peer=203.0.113.9 via=127.0.0.1", self.d.tail(400))

    def test_malformed_header_closes_the_connection(self):
        s = connect(self.d.ports["imap"])
        try:
            s.sendall(b"a1 CAPABILITY\r\n" + b"x" * 32)
            self.assertEqual(until_closed(s, 15), "")
        finally:
            s.close()
        self.assertIn("proxy.bad_header listener=imap via=127.0.0.1", self.d.tail(400))

    def test_an_untrusted_peer_is_a_direct_client(self):
        s = connect(self.d.ports["imap"], "127.0.0.3")
        try:
            greeting = read_line(s)
            self.assertIn("AUTH=PLAIN", greeting)  # loopback, not a proxy
        finally:
            s.close()


class ImapDrain(unittest.TestCase):
    def test_sigterm_says_bye_to_imap_clients(self):
        d = Daemon(extra_toml="[smtp]\nplain_auth_on_loopback = true\n")
        try:
            d.add_user("alice@example.test", "alice-imap-pw")
            s = connect(d.ports["imap"])
            read_line(s)
            s.sendall(b"a1 LOGIN alice@example.test alice-imap-pw\r\n")
            self.assertRegex(until_tagged(s, "a1")[-1], r"^a1 OK")
            s.sendall(b"a2 IDLE\r\n")
            self.assertTrue(read_line(s).startswith("+ "))
            t0 = time.time()
            d.proc.send_signal(signal.SIGTERM)
            rest = until_closed(s, 15)
            self.assertIn("* BYE Server shutting down", rest)
            s.close()
            self.assertEqual(d.stop(), 0)
            self.assertLess(time.time() - t0, 10)
        finally:
            d.cleanup()


if __name__ == "__main__":
    main()

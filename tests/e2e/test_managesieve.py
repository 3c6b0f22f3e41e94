"""End-to-end: refmaild's ManageSieve listener (RFC 5804) driven by two real clients,
python3-sievelib (sievelib.managesieve.Client) and sieve-connect (Perl, STARTTLS), and by
raw sockets: upload, list, activate, get, rename, delete (refused while active), HAVESPACE,
CHECKSCRIPT, the size and count limits (QUOTA/MAXSIZE without the script being read into
memory, QUOTA/MAXSCRIPTS), wrong passwords (NO, a warning in the log naming peer and
user), SASL offered only after STARTTLS unless plain_auth_on_loopback, scripts removed
with their account, the login deadline, the drain's BYE, and PROXY v2 (never loopback)."""
import base64, os, socket, ssl, subprocess, sys, tempfile, time, unittest
from harness import Daemon, main

DIST = "/usr/lib/python3/dist-packages"
try:
    from sievelib.managesieve import Client
except ImportError:  # Debian's python3-sievelib when the python running the tests is not Debian's own
    if DIST not in sys.path:
        sys.path.append(DIST)
    from sievelib.managesieve import Client

SIEVE_CONNECT = "/usr/bin/sieve-connect"
USER, PASSWORD = "sieve@example.test", "sieve-password-1"
SCRIPT = 'require ["fileinto"];\r\nif header :contains "subject" "spam" {\r\n  fileinto "Junk";\r\n}\r\n'


def connect(port, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return s


def read_until_response(f):
    """Lines up to and including the first OK / NO / BYE line."""
    lines = []
    while True:
        line = f.readline()
        if not line:
            return lines
        lines.append(line.decode(errors="replace"))
        if line[:2] in (b"OK", b"NO") or line[:3] == b"BY":
            return lines


def raw_login(port):
    """A raw connection logged in with AUTHENTICATE PLAIN (plaintext on loopback)."""
    s = connect(port)
    f = s.makefile("rb")
    read_until_response(f)
    auth = base64.b64encode(b"\0" + USER.encode() + b"\0" + PASSWORD.encode())
    s.sendall(b'AUTHENTICATE "PLAIN" "' + auth + b'"\r\n')
    r = read_until_response(f)
    assert r[-1].startswith("OK"), r
    return s, f


class ManageSievePlainOnLoopback(unittest.TestCase):
    """plain_auth_on_loopback: sievelib logs in without TLS, as a local tool would."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(extra_toml="[smtp]\nplain_auth_on_loopback = true\n[sieve]\nmax_scripts = 3\n")
        cls.d.add_user(USER, PASSWORD)
        cls.port = cls.d.ports["managesieve"]

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def client(self):
        c = Client("127.0.0.1", self.port)
        self.assertTrue(c.connect(USER, PASSWORD, authmech="PLAIN"), getattr(c, "errmsg", b""))
        return c

    def test_capabilities(self):
        c = Client("127.0.0.1", self.port)
        self.assertTrue(c.connect(USER, PASSWORD, authmech="PLAIN"))
        self.assertEqual(c.get_implementation(), "refmail")
        self.assertIn("PLAIN", c.get_sasl_mechanisms())
        self.assertIn("fileinto", c.get_sieve_capabilities())
        self.assertTrue(c.has_tls_support())
        c.logout()
        # SASL LOGIN (sievelib sends both answers without waiting for the challenges).
        c = Client("127.0.0.1", self.port)
        self.assertTrue(c.connect(USER, PASSWORD, authmech="LOGIN"))
        self.assertEqual(c.listscripts()[0], None)
        c.logout()

    def test_script_lifecycle(self):
        c = self.client()
        self.assertTrue(c.putscript("rules", SCRIPT), getattr(c, "errmsg", b""))
        self.assertTrue(c.putscript("other", "keep;\r\n"), getattr(c, "errmsg", b""))
        active, scripts = c.listscripts()
        self.assertIsNone(active)
        self.assertEqual(sorted(scripts), ["other", "rules"])
        self.assertTrue(c.setactive("rules"))
        active, scripts = c.listscripts()
        self.assertEqual(active, "rules")
        self.assertEqual(scripts, ["other"])
        # sievelib gives the script back with its line breaks as "\n"; the raw answer is exact.
        self.assertEqual(c.getscript("rules"), SCRIPT.replace("\r\n", "\n").rstrip("\n"))
        s, f = raw_login(self.port)
        s.sendall(b'GETSCRIPT "rules"\r\n')
        self.assertEqual(f.readline(), b"{%d}\r\n" % len(SCRIPT))
        self.assertEqual(f.read(len(SCRIPT)), SCRIPT.encode())
        self.assertEqual(f.readline(), b"\r\n")
        self.assertEqual(f.readline(), b"OK\r\n")
        s.close()
        self.assertTrue(c.havespace("third", 100))
        self.assertTrue(c.checkscript("keep;\r\n"))
        # Deleting the active script is refused (RFC 5804 2.10: ACTIVE).
        self.assertFalse(c.deletescript("rules"))
        self.assertEqual(c.errcode, b"ACTIVE")
        # Rename keeps the active flag.
        self.assertTrue(c.renamescript("rules", "renamed"), getattr(c, "errmsg", b""))
        active, scripts = c.listscripts()
        self.assertEqual(active, "renamed")
        self.assertFalse(c.renamescript("renamed", "other"))
        self.assertEqual(c.errcode, b"ALREADYEXISTS")
        self.assertIsNone(c.getscript("rules"))
        self.assertEqual(c.errcode, b"NONEXISTENT")
        # Replacing the active script's content.
        self.assertTrue(c.putscript("renamed", "discard;\r\n"))
        self.assertEqual(c.getscript("renamed"), "discard;")
        # Deactivate, then delete both.
        self.assertTrue(c.setactive(""))
        self.assertEqual(c.listscripts()[0], None)
        self.assertTrue(c.deletescript("renamed"))
        self.assertTrue(c.deletescript("other"))
        self.assertEqual(c.listscripts(), (None, []))
        c.logout()

    def test_limits(self):
        c = self.client()
        # 300 KB is over the default 256 KiB: refused, and the session goes on.
        big = "# " + "x" * 300000 + "\r\nkeep;\r\n"
        self.assertFalse(c.putscript("big", big))
        self.assertEqual(c.errcode, b"QUOTA/MAXSIZE")
        self.assertFalse(c.havespace("big", len(big)))
        self.assertEqual(c.errcode, b"QUOTA/MAXSIZE")
        # A script that does not compile is refused with line:column, and not stored.
        self.assertFalse(c.putscript("broken", 'require "fileinto";\r\nfileint "x";\r\n'))
        self.assertIn(b"2:1", c.errmsg)
        self.assertNotIn("broken", c.listscripts()[1])
        # max_scripts = 3.
        for n in ("a", "b", "c"):
            self.assertTrue(c.putscript("limit-" + n, "keep;\r\n"), getattr(c, "errmsg", b""))
        self.assertFalse(c.putscript("limit-d", "keep;\r\n"))
        self.assertEqual(c.errcode, b"QUOTA/MAXSCRIPTS")
        self.assertFalse(c.havespace("limit-d", 10))
        self.assertEqual(c.errcode, b"QUOTA/MAXSCRIPTS")
        self.assertTrue(c.putscript("limit-a", "stop;\r\n"))  # replacing is not one more
        for n in ("a", "b", "c"):
            self.assertTrue(c.deletescript("limit-" + n))
        self.assertEqual(c.listscripts(), (None, []))
        c.logout()

    def test_oversized_literal_raw(self):
        """A script literal over the limit is consumed as it streams, both "{n}" and
        "{n+}", and the connection stays in step; an absurd one ends it."""
        s, f = raw_login(self.port)
        for plus in (b"+", b""):
            n = 2 * 1024 * 1024
            s.sendall(b'PUTSCRIPT "huge" {%d%s}\r\n' % (n, plus))
            chunk = b"#" * 65536
            for _ in range(n // len(chunk)):
                s.sendall(chunk)
            s.sendall(b"\r\nNOOP \"after\"\r\n")
            r = read_until_response(f)
            self.assertTrue(r[-1].startswith("NO (QUOTA/MAXSIZE)"), r)
            self.assertEqual(read_until_response(f)[-1], 'OK (TAG "after") "Done"\r\n')
        s.sendall(b'PUTSCRIPT "huge" {99999999999+}\r\n')
        r = read_until_response(f)
        self.assertTrue(r[-1].startswith("BYE"), r)
        self.assertEqual(f.read(), b"")  # closed
        s.close()

    def test_wrong_password(self):
        c = Client("127.0.0.1", self.port)
        self.assertFalse(c.connect(USER, "not-the-password", authmech="PLAIN"))
        deadline = time.time() + 5
        line = ""
        while time.time() < deadline and not line:
            with open(self.d.log_path, "rb") as f:
                for l in f.read().decode(errors="replace").splitlines():
                    if "managesieve.auth_failed" in l:
                        line = l
            time.sleep(0.1)
        self.assertIn("warn", line)
        self.assertIn("peer=127.0.0.1", line)
        self.assertIn("user=" + USER, line)
        with open(self.d.log_path, "rb") as f:
            self.assertNotIn(b"not-the-password", f.read())

    def test_scripts_go_with_the_account(self):
        other = "gone@example.test"
        self.d.add_user(other, "gone-password-1")
        c = Client("127.0.0.1", self.port)
        self.assertTrue(c.connect(other, "gone-password-1", authmech="PLAIN"))
        self.assertTrue(c.putscript("mine", "keep;\r\n"))
        self.assertTrue(c.setactive("mine"))
        c.logout()
        self.d.ctl("user", "remove", other)
        self.d.add_user(other, "gone-password-2")
        c = Client("127.0.0.1", self.port)
        self.assertTrue(c.connect(other, "gone-password-2", authmech="PLAIN"))
        self.assertEqual(c.listscripts(), (None, []))
        c.logout()


class ManageSieveTls(unittest.TestCase):
    """The default: no SASL mechanism before STARTTLS; sieve-connect and sievelib use it."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon()
        cls.d.add_user(USER, PASSWORD)
        cls.port = cls.d.ports["managesieve"]
        cls.tmp = tempfile.mkdtemp(prefix="refmail-sieve-")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def sieve_connect(self, *args, password=PASSWORD, check=True):
        cmd = [SIEVE_CONNECT, "--nosrv", "--server", "127.0.0.1", "--port", str(self.port), "--user", USER,
               "--passwordfd", "0", "--notlsverify", *args]
        r = subprocess.run(cmd, input=password + "\n", capture_output=True, text=True, timeout=60)
        if check:
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r

    def test_no_sasl_before_starttls(self):
        s = connect(self.port)
        f = s.makefile("rb")
        greeting = read_until_response(f)
        self.assertIn('"SASL" ""\r\n', greeting)
        self.assertIn('"STARTTLS"\r\n', greeting)
        s.sendall(b'AUTHENTICATE "PLAIN" "AHVzZXIAcGFzcw=="\r\n')
        self.assertTrue(read_until_response(f)[-1].startswith("NO (ENCRYPT-NEEDED)"))
        s.sendall(b"STARTTLS\r\n")
        self.assertTrue(read_until_response(f)[-1].startswith("OK"))
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        t = ctx.wrap_socket(s)
        g = t.makefile("rb")
        caps = read_until_response(g)  # RFC 5804 2.2: capabilities again after the handshake
        self.assertIn('"SASL" "PLAIN LOGIN"\r\n', caps)
        self.assertNotIn('"STARTTLS"\r\n', caps)
        t.close()

    def test_sievelib_starttls(self):
        c = Client("127.0.0.1", self.port)
        self.assertTrue(c.connect(USER, PASSWORD, starttls=True, authmech="PLAIN"), getattr(c, "errmsg", b""))
        self.assertTrue(c.putscript("tls-script", "keep;\r\n"))
        self.assertIn("tls-script", c.listscripts()[1])
        self.assertTrue(c.deletescript("tls-script"))
        c.logout()

    def test_sieve_connect(self):
        local = os.path.join(self.tmp, "filter.sieve")
        with open(local, "w", newline="") as f:
            f.write(SCRIPT)
        self.sieve_connect("--upload", "--localsieve", local, "--remotesieve", "filter")
        listing = self.sieve_connect("--list").stdout
        self.assertIn("filter", listing)
        self.assertNotIn("ACTIVE", listing)
        self.sieve_connect("--activate", "--remotesieve", "filter")
        self.assertIn("ACTIVE", self.sieve_connect("--list").stdout)
        out = os.path.join(self.tmp, "downloaded.sieve")
        self.sieve_connect("--download", "--remotesieve", "filter", "--localsieve", out)
        with open(out, "rb") as f:
            self.assertEqual(f.read().replace(b"\r\n", b"\n"), SCRIPT.encode().replace(b"\r\n", b"\n"))
        # The active script cannot be deleted; after deactivating it can.
        r = self.sieve_connect("--delete", "--remotesieve", "filter", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("NO (ACTIVE)", r.stderr)
        self.sieve_connect("--deactivate")
        self.sieve_connect("--delete", "--remotesieve", "filter")
        self.assertNotIn("filter", self.sieve_connect("--list").stdout)

    def test_sieve_connect_wrong_password(self):
        r = self.sieve_connect("--list", password="wrong-password", check=False)
        self.assertNotEqual(r.returncode, 0)


class ManageSieveConnection(unittest.TestCase):
    """The deadlines, the drain and PROXY v2: the IMAP listener's rules."""

    def test_login_deadline(self):
        d = Daemon(extra_toml="[limits]\nimap_login_timeout = 1\n")
        try:
            s = connect(d.ports["managesieve"])
            f = s.makefile("rb")
            read_until_response(f)
            start = time.time()  # nothing said after the greeting: imap_login_timeout
            self.assertEqual(f.readline(), b'BYE "Autologout; idle too long"\r\n')
            self.assertLess(time.time() - start, 5)
            self.assertEqual(f.read(), b"")
            s.close()
            self.assertIn("managesieve.timeout", d.tail(50))
        finally:
            d.cleanup()

    def test_sigterm_says_bye(self):
        d = Daemon(extra_toml="[smtp]\nplain_auth_on_loopback = true\n")
        try:
            d.add_user(USER, PASSWORD)
            s, f = raw_login(d.ports["managesieve"])
            d.proc.send_signal(__import__("signal").SIGTERM)
            self.assertEqual(f.readline(), b'BYE "Server shutting down"\r\n')
            s.close()
            self.assertEqual(d.stop(), 0)
        finally:
            d.cleanup()

    def test_proxy_v2_client_is_not_loopback(self):
        from test_proxy import proxy_v2
        d = Daemon(extra_toml='[smtp]\nplain_auth_on_loopback = true\n'
                              '[proxy]\ntrusted = ["127.0.0.1"]\nproxy_protocol = ["managesieve"]\n')
        try:
            s = connect(d.ports["managesieve"])
            s.sendall(proxy_v2("203.0.113.9", dport=4190))
            greeting = read_until_response(s.makefile("rb"))
            self.assertIn('"SASL" ""\r\n', greeting)  # no plaintext login through a proxy
            s.close()
            self.assertIn("managesieve.proxied listener=managesieve peer=203.0.113.9 via=127.0.0.1", d.tail(100))
        finally:
            d.cleanup()


if __name__ == "__main__":
    main()

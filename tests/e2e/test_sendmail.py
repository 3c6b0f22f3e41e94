"""End-to-end: refmail-sendmail against the real refmaild (submission STARTTLS + AUTH
PLAIN, SMTPS implicit TLS + AUTH LOGIN, certificate and host-name verification, wrong
password, account set) and against a scripted TLS server that checks the XOAUTH2 SASL
string. refmaild's self-signed certificate (<data_dir>/tls/cert.pem, SAN DNS:
mx.example.test and IP:127.0.0.1) is the ca_file."""
import base64, os, random, socket, ssl, stat, subprocess, tempfile, threading, unittest
from harness import BUILD, Daemon, main

SENDMAIL = os.environ.get("REFMAIL_SENDMAIL", os.path.join(BUILD, "tools", "refmail-sendmail"))
USER, PASSWORD = "alerts@example.test", "pw-alerts-7"
RCPT = "ops@example.test"


def inbox(stats, account=RCPT):
    """Messages held by one account (refmaild also files a copy in the sender's Sent)."""
    return next((a["messages"] for a in stats["accounts"] if a["name"] == account), 0)


def run(args, stdin="", config=None, name=SENDMAIL):
    cmd = [name] + (["--config", config] if config else []) + list(args)
    return subprocess.run(cmd, input=stdin.encode() if isinstance(stdin, str) else stdin,
                          capture_output=True, timeout=120)


class Sendmail(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon()
        try:
            cls.d.add_user(USER, PASSWORD)
            cls.d.add_user(RCPT, "pw-ops-1")
        except Exception:
            cls.d.cleanup()
            raise
        cls.tmp = tempfile.mkdtemp(prefix="refmail-sendmail-")
        cls.ca = os.path.join(cls.d.data, "tls", "cert.pem")
        cls.pwfile = os.path.join(cls.tmp, "pw")
        with open(cls.pwfile, "w") as f:
            f.write(PASSWORD + "\n")
        os.chmod(cls.pwfile, 0o600)
        cls.config = cls.write_config("main.toml", f"""# accounts for the e2e test
default = "sub"

[account.sub]   # submission, STARTTLS + PLAIN
host = "127.0.0.1"
port = {cls.d.ports["submission"]}
tls = "starttls"
auth = "plain"
user = "{USER}"
password_file = "{cls.pwfile}"
ca_file = "{cls.ca}"

[account.smtps]
host = "127.0.0.1"
port = {cls.d.ports["smtps"]}
tls = "tls"
auth = "login"
user = "{USER}"
password = "{PASSWORD}"
ca_file = "{cls.ca}"
from = "{USER}"

[account.untrusted]   # no ca_file: the system store does not know refmaild's cert
host = "127.0.0.1"
port = {cls.d.ports["smtps"]}
tls = "tls"
user = "{USER}"
password = "{PASSWORD}"

[account.wrongname]   # trusted cert, but "localhost" is not in its SAN
host = "localhost"
port = {cls.d.ports["smtps"]}
tls = "tls"
user = "{USER}"
password = "{PASSWORD}"
ca_file = "{cls.ca}"

[account.badpw]
host = "127.0.0.1"
port = {cls.d.ports["submission"]}
user = "{USER}"
password = "not-the-password"
ca_file = "{cls.ca}"
""")

    @classmethod
    def write_config(cls, name, text):
        path = os.path.join(cls.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)
        return path

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        subprocess.run(["rm", "-rf", cls.tmp])

    def ok(self, r):
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))

    def test_notification_starttls_plain_attachment_deduplicated(self):
        payload = random.Random(8).randbytes(200_000)
        att = os.path.join(self.tmp, "rapport-été.bin")
        with open(att, "wb") as f:
            f.write(payload)
        s0 = self.d.stats()
        self.ok(run(["send", "--to", RCPT, "--subject", "Backup réussi", "--body", "all good",
                     "--attach", att], config=self.config))
        s1 = self.d.stats()
        self.assertEqual(s1["messages"], s0["messages"] + 1)
        self.assertEqual(inbox(s1), inbox(s0) + 1)
        self.assertGreater(s1["physical_bytes"] - s0["physical_bytes"], len(payload) * 0.9)
        # The same attachment again (new message, new body): no new blob bytes.
        self.ok(run(["send", "--to", RCPT, "--subject", "Backup réussi (2)", "--body", "again",
                     "--attach", att], config=self.config))
        s2 = self.d.stats()
        self.assertEqual(s2["messages"], s1["messages"] + 1)
        self.assertEqual(s2["blobs"], s1["blobs"])
        self.assertLess(s2["physical_bytes"] - s1["physical_bytes"], len(payload) * 0.1)
        self.assertGreater(s2["logical_bytes"] - s1["logical_bytes"], len(payload))

    def test_sendmail_t_over_smtps_auth_login_verbose(self):
        msg = (f"To: {RCPT}\nBcc: {USER}\nSubject: cron job\n\nline 1\n..dotted\n.\nafter the dot\n")
        s0 = self.d.stats()
        r = run(["--account", "smtps", "-t", "--verbose"], stdin=msg, config=self.config)
        self.ok(r)
        s1 = self.d.stats()
        self.assertEqual(inbox(s1), inbox(s0) + 1)
        self.assertEqual(inbox(s1, USER), inbox(s0, USER) + 2)  # Bcc copy + Sent copy
        log = r.stderr.decode()
        self.assertIn("C: AUTH LOGIN", log)
        self.assertIn("<secret masked>", log)
        self.assertNotIn(PASSWORD, log)
        self.assertNotIn(base64.b64encode(PASSWORD.encode()).decode(), log)
        self.assertIn("S: 235", log)
        self.assertIn("TLS established: TLSv1.", log)

    def test_linked_as_sendmail(self):
        link = os.path.join(self.tmp, "sendmail")
        if not os.path.exists(link):
            os.symlink(os.path.abspath(SENDMAIL), link)
        s0 = self.d.stats()
        r = run(["-C", self.config, "-oi", "-f", USER, "-F", "Cron Daemon", RCPT],
                stdin="Subject: via sendmail\n\n.\nbody\n", name=link)
        self.ok(r)
        self.assertEqual(inbox(self.d.stats()), inbox(s0) + 1)
        # As "sendmail", "send" is a recipient (without @): refused before connecting.
        r = run(["-C", self.config, "send"], stdin="x\n", name=link)
        self.assertEqual(r.returncode, 65)
        self.assertIn("without '@'", r.stderr.decode())

    def test_untrusted_certificate_refused(self):
        s0 = self.d.stats()
        r = run(["--account", "untrusted", RCPT], stdin="Subject: x\n\nx\n", config=self.config)
        self.assertEqual(r.returncode, 76, r.stderr)
        self.assertIn("certificate not trusted", r.stderr.decode())
        self.assertEqual(self.d.stats()["messages"], s0["messages"])

    def test_host_name_mismatch_refused(self):
        r = run(["--account", "wrongname", RCPT], stdin="Subject: x\n\nx\n", config=self.config)
        self.assertEqual(r.returncode, 76, r.stderr)
        self.assertIn("certificate not trusted", r.stderr.decode())
        self.assertIn("mismatch", r.stderr.decode())

    def test_wrong_password_shows_server_text(self):
        r = run(["--account", "badpw", RCPT], stdin="Subject: x\n\nx\n", config=self.config)
        self.assertEqual(r.returncode, 77, r.stderr)
        err = r.stderr.decode().strip()
        self.assertTrue(err.startswith("refmail-sendmail: authentication failed: 535"), err)
        self.assertEqual(len(err.splitlines()), 1)

    def test_recipient_refused(self):
        r = run(["nobody@example.test"], stdin="Subject: x\n\nx\n", config=self.config)
        self.assertEqual(r.returncode, 67, r.stderr)
        self.assertIn("recipient refused: nobody@example.test: 550", r.stderr.decode())
        # One good, one bad: delivered to the good one, the bad one reported, exit 67.
        s0 = self.d.stats()
        r = run(["nobody@example.test", RCPT], stdin="Subject: x\n\nx\n", config=self.config)
        self.assertEqual(r.returncode, 67, r.stderr)
        self.assertEqual(inbox(self.d.stats()), inbox(s0) + 1)

    def test_cannot_connect(self):
        cfg = self.write_config("closed.toml", f'[account.a]\nhost = "127.0.0.1"\nport = {_closed_port()}\n'
                                               'tls = "tls"\nfrom = "x@example.test"\n')
        r = run([RCPT], stdin="Subject: x\n\nx\n", config=cfg)
        self.assertEqual(r.returncode, 75)
        self.assertIn("cannot connect to 127.0.0.1:", r.stderr.decode())

    def test_account_set_then_send(self):
        cfg = os.path.join(self.tmp, "set.toml")
        with open(cfg, "w") as f:
            f.write("# appliance mail settings\n[account.other]  # keep me\nhost = \"smtp.other.test\"\n"
                    "user = \"o@other.test\"\npassword = \"keep\"  # old\n")
        os.chmod(cfg, 0o644)
        r = run(["account", "set", "new", "--host", "127.0.0.1", "--port", str(self.d.ports["submission"]),
                 "--tls", "starttls", "--user", USER, "--ca-file", self.ca, "--password-stdin"],
                stdin=PASSWORD + "\n", config=cfg)
        self.ok(r)
        self.assertEqual(stat.S_IMODE(os.stat(cfg).st_mode), 0o600)
        with open(cfg) as f:
            text = f.read()
        self.assertTrue(text.startswith("# appliance mail settings\n[account.other]  # keep me\n"), text)
        self.assertIn('password = "keep"  # old', text)
        self.assertIn("[account.new]", text)
        self.assertNotIn(PASSWORD, r.stdout.decode() + r.stderr.decode())
        s0 = self.d.stats()
        self.ok(run(["--account", "new", "-f", USER, RCPT], stdin="Subject: set\n\nok\n", config=cfg))
        self.assertEqual(inbox(self.d.stats()), inbox(s0) + 1)


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class XOAuth2(unittest.TestCase):
    """A scripted implicit-TLS SMTP server that accepts only the expected XOAUTH2 string."""

    TOKEN = "ya29.token-from-command"

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="refmail-xoauth2-")
        self.cert, self.key = os.path.join(self.tmp, "c.pem"), os.path.join(self.tmp, "k.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=oauth.test", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", self.key, "-out", self.cert], check=True, capture_output=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.settimeout(30)
        self.seen = {}
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def tearDown(self):
        self.thread.join(30)
        self.sock.close()
        subprocess.run(["rm", "-rf", self.tmp])

    def serve(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        try:
            raw, _ = self.sock.accept()
        except OSError:
            return
        with ctx.wrap_socket(raw, server_side=True) as c:
            c.settimeout(30)
            f = c.makefile("rb")

            def say(line):
                c.sendall(line.encode() + b"\r\n")

            say("220 oauth.test ESMTP")
            while True:
                line = f.readline()
                if not line:
                    return
                cmd = line.decode().rstrip("\r\n")
                verb = cmd.split(" ")[0].upper()
                if verb == "EHLO":
                    say("250-oauth.test")
                    say("250 AUTH XOAUTH2")
                elif verb == "AUTH":
                    sasl = base64.b64decode(cmd.split(" ")[2]).decode()
                    self.seen["sasl"] = sasl
                    if sasl == f"user=bot@oauth.test\x01auth=Bearer {self.TOKEN}\x01\x01":
                        say("235 2.7.0 accepted")
                    else:
                        say("535 5.7.8 bad token")
                elif verb in ("MAIL", "RCPT"):
                    self.seen.setdefault("env", []).append(cmd)
                    say("250 ok")
                elif verb == "DATA":
                    say("354 go")
                    body = b""
                    while True:
                        l = f.readline()
                        if l in (b".\r\n", b""):
                            break
                        body += l
                    self.seen["data"] = body
                    say("250 2.0.0 queued")
                elif verb == "QUIT":
                    say("221 bye")
                    return
                else:
                    say("500 what")

    def config(self, command):
        path = os.path.join(self.tmp, "x.toml")
        with open(path, "w") as f:
            f.write(f'[account.oauth]\nhost = "127.0.0.1"\nport = {self.sock.getsockname()[1]}\ntls = "tls"\n'
                    f'auth = "xoauth2"\nuser = "bot@oauth.test"\npassword_command = "{command}"\n'
                    f'ca_file = "{self.cert}"\n')
        os.chmod(path, 0o600)
        return path

    def test_xoauth2_token_from_password_command(self):
        r = run(["-t"], stdin="To: ops@oauth.test\nSubject: disk\n\nfull\n", config=self.config("echo " + self.TOKEN))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.thread.join(30)
        self.assertEqual(self.seen["sasl"], f"user=bot@oauth.test\x01auth=Bearer {self.TOKEN}\x01\x01")
        self.assertEqual(self.seen["env"], ["MAIL FROM:<bot@oauth.test>", "RCPT TO:<ops@oauth.test>"])
        self.assertIn(b"Subject: disk\r\n", self.seen["data"])

    def test_xoauth2_bad_token(self):
        r = run(["ops@oauth.test"], stdin="Subject: x\n\nx\n", config=self.config("echo wrong"))
        self.assertEqual(r.returncode, 77, r.stderr)
        self.assertIn("authentication failed: 535 5.7.8 bad token", r.stderr.decode())


if __name__ == "__main__":
    main()

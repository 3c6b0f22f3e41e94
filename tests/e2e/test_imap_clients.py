"""End-to-end: real IMAP clients against the real refmaild.

- mbsync (Debian's isync) over IMAPS: a two-way sync of 1,000 messages into a local
  Maildir, then flags and deletions made on both sides (locally in the Maildir, on the
  server over IMAP from another client), a second sync that carries them both ways, and a
  third that changes nothing.
- offlineimap3 (Debian's offlineimap3), scripted, over IMAPS: the same two-way round into
  its own Maildir with a second folder, messages byte for byte, and a last sync that
  changes nothing.
- imapflow (npm, tests/clients): a QRESYNC resync (RFC 7162) after changes made over JMAP
  and a delivery reports exactly the vanished UID, the changed flags and the new message.
- A message delivered over SMTP is fetched over IMAP byte for byte as it was sent, and
  a DKIM-signed one keeps a valid signature: Debian's python3-dkim (dkimpy) signs it and
  verifies what IMAP returns, with the public key served by the test (no DNS).
Everything on 127.0.0.1, refmaild started and stopped by PID (harness.Daemon)."""
import email.utils, imaplib, json, os, re, shutil, smtplib, ssl, subprocess, sys, tempfile, time, unittest

from harness import Daemon, JmapClient

USER, PW = "alice@example.test", "alice-pw-1234"


def load_dkim():
    """dkimpy from Debian's python3-dkim (also when the tests run on another python3)."""
    try:
        import dkim  # noqa: F401
    except ImportError:
        for p in ("/usr/lib/python3/dist-packages",):
            if os.path.isdir(os.path.join(p, "dkim")) and p not in sys.path:
                sys.path.append(p)
    import dkim
    return dkim


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def message(i, extra=""):
    return (f"From: Sender {i % 13} <s{i % 13}@outside.test>\r\nTo: {USER}\r\nSubject: sync {i}\r\n"
            f"Date: Mon, 1 Jan 2024 10:{i % 60:02d}:00 +0000\r\nMessage-ID: <sync{i}@outside.test>\r\n{extra}"
            f"\r\nBody of message {i}.\r\n")


class OwnDaemon:
    """A refmaild of the test class's own, USER in it, and an IMAPS login to it."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(extra_toml="[smtp]\nplain_auth_on_loopback = true\n")
        cls.d.add_user(USER, PW)

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def imap(self):
        m = imaplib.IMAP4_SSL("127.0.0.1", self.d.ports["imaps"], ssl_context=tls_ctx(), timeout=60)
        m.login(USER, PW)
        return m


class ImapClientsTest(OwnDaemon, unittest.TestCase):

    def smtp_send(self, raw, rcpt=USER):
        with smtplib.SMTP("127.0.0.1", self.d.ports["smtp"], timeout=60) as s:
            s.sendmail("sender@outside.test", [rcpt], raw)

    def test_1_smtp_to_imap_is_byte_exact_and_dkim_stays_valid(self):
        dkim = load_dkim()
        key = subprocess.run(["openssl", "genrsa", "2048"], capture_output=True, check=True).stdout
        pub = subprocess.run(["openssl", "rsa", "-pubout", "-outform", "DER"], input=key, capture_output=True,
                             check=True).stdout
        import base64
        record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(pub)
        raw = (b"From: Signer <signer@outside.test>\r\nTo: " + USER.encode() + b"\r\n"
               b"Subject: signed =?utf-8?q?r=C3=A9sum=C3=A9?=\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
               b"Message-ID: <dkim1@outside.test>\r\nMIME-Version: 1.0\r\n"
               b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
               b"Hello,  with  spaces \r\n\r\n--b\r\nContent-Type: application/octet-stream\r\n"
               b"Content-Transfer-Encoding: base64\r\n\r\n"
               + b"\r\n".join(base64.b64encode(os.urandom(30000))[i:i + 76]
                              for i in range(0, 40000, 76)) + b"\r\n--b--\r\n")
        sig = dkim.sign(raw, b"sel", b"outside.test", key, include_headers=[b"from", b"to", b"subject", b"date"])
        signed = sig + raw
        dns = lambda name, timeout=5: record if name == b"sel._domainkey.outside.test." else None
        self.assertTrue(dkim.verify(signed, dnsfunc=dns), "the signature must verify before sending")
        self.smtp_send(signed)
        m = self.imap()
        m.select("INBOX")
        typ, data = m.search(None, "HEADER", "Message-ID", "dkim1@outside.test")
        self.assertEqual(typ, "OK")
        n = data[0].split()[-1]
        typ, data = m.fetch(n, "(BODY.PEEK[])")
        self.assertEqual(typ, "OK")
        got = data[0][1]
        # refmail adds its Received header on top; everything after it is what was sent.
        self.assertTrue(got.endswith(signed), "the fetched message must end with the sent bytes")
        first = got[: len(got) - len(signed)]
        self.assertTrue(first.startswith(b"Received: "), first[:80])
        self.assertTrue(dkim.verify(got, dnsfunc=dns), "the signature must verify after store and fetch")
        m.logout()

    def test_2_mbsync_two_way(self):
        if not shutil.which("mbsync"):
            self.fail("mbsync (Debian's isync) is not installed: tools/install-deps.sh --test installs it")
        n = 1000
        with smtplib.SMTP("127.0.0.1", self.d.ports["smtp"], timeout=120) as s:
            for i in range(n):
                s.sendmail("sender@outside.test", [USER], message(i))
        m = self.imap()
        total = int(m.select("INBOX")[1][0])  # with what earlier tests delivered
        m.logout()
        self.assertGreaterEqual(total, n)
        work = tempfile.mkdtemp(prefix="refmail-mbsync-")
        try:
            local = os.path.join(work, "mail")
            os.makedirs(local)
            cert = os.path.join(self.d.data, "tls", "cert.pem")
            rc = os.path.join(work, "mbsyncrc")
            with open(rc, "w") as f:
                f.write(f"""IMAPAccount refmail
Host 127.0.0.1
Port {self.d.ports['imaps']}
User {USER}
Pass {PW}
SSLType IMAPS
CertificateFile {cert}

IMAPStore remote
Account refmail

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns INBOX Archive
Create Both
Expunge Both
SyncState *
""")

            def mbsync():
                r = subprocess.run(["mbsync", "-c", rc, "-V", "sync"], capture_output=True, text=True, timeout=600)
                self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-3000:])
                return r.stdout + r.stderr

            def local_files(box="INBOX"):
                out = {}
                for sub in ("cur", "new"):
                    d = os.path.join(local, box, sub)
                    for name in os.listdir(d) if os.path.isdir(d) else []:
                        out[name] = os.path.join(d, name)
                return out

            mbsync()
            files = local_files()
            self.assertEqual(len(files), total)
            subjects = set()
            for path in files.values():
                with open(path, "rb") as f:
                    hit = re.search(rb"Subject: sync (\d+)", f.read())
                    if hit:
                        subjects.add(hit.group(1))
            self.assertEqual(len(subjects), n)

            # Local changes: flag 10 messages, delete 5 (the T flag, then expunged by the
            # sync), add 3 new ones.
            names = sorted(files)
            for name in names[:10]:
                base, _, flags = name.partition(":2,")
                os.rename(files[name], os.path.join(local, "INBOX", "cur", base + ":2," + "".join(sorted(set(flags + "FS")))))
            files = local_files()
            names = sorted(files)
            for name in names[10:15]:
                base, _, flags = name.partition(":2,")
                os.rename(files[name], os.path.join(local, "INBOX", "cur", base + ":2," + "".join(sorted(set(flags + "T")))))
            for i in range(3):
                with open(os.path.join(local, "INBOX", "new", f"{time.time()}.local{i}.host"), "wb") as f:
                    f.write(message(5000 + i).encode())
            # Server changes from another client: 7 seen, 4 deleted and expunged.
            m = self.imap()
            m.select("INBOX")
            self.assertEqual(m.uid("STORE", "900:906", "+FLAGS.SILENT", r"(\Seen)")[0], "OK")
            self.assertEqual(m.uid("STORE", "950:953", "+FLAGS.SILENT", r"(\Deleted)")[0], "OK")
            self.assertEqual(m.expunge()[0], "OK")
            m.logout()

            mbsync()
            # Both sides: 5 local and 4 server deletions gone, 3 local messages added.
            want = total - 5 - 4 + 3
            m = self.imap()
            typ, data = m.select("INBOX")
            self.assertEqual(int(data[0]), want)
            typ, data = m.search(None, "FLAGGED")
            self.assertEqual(len(data[0].split()), 10)
            typ, data = m.search(None, "SUBJECT", '"sync 5001"')
            self.assertEqual(len(data[0].split()), 1)
            m.logout()
            files = local_files()
            self.assertEqual(len(files), want)
            seen_remote = [name for name in files if "S" in name.partition(":2,")[2]]
            self.assertGreaterEqual(len(seen_remote), 10 + 7)

            # A third sync has nothing to do: the server's HIGHESTMODSEQ (every flag
            # change, append and expunge moves it) and the local files stay as they are.
            def server_state():
                m = self.imap()
                typ, data = m.status("INBOX", "(MESSAGES HIGHESTMODSEQ)")
                m.logout()
                return data
            before_server, before_local = server_state(), sorted(local_files())
            mbsync()
            self.assertEqual(server_state(), before_server)
            self.assertEqual(sorted(local_files()), before_local)
        finally:
            shutil.rmtree(work, ignore_errors=True)


class OfflineimapTest(OwnDaemon, unittest.TestCase):
    """offlineimap3, scripted (-o: one run, -u quiet), against its own refmaild."""

    def test_two_way_sync(self):
        if not shutil.which("offlineimap"):
            self.fail("offlineimap (Debian's offlineimap3) is not installed: tools/install-deps.sh --test installs it")
        n = 200
        sent = {}
        with smtplib.SMTP("127.0.0.1", self.d.ports["smtp"], timeout=120) as s:
            for i in range(n):
                sent[i] = message(i).encode()
                s.sendmail("sender@outside.test", [USER], message(i))
        m = self.imap()
        self.assertEqual(m.create("Projects")[0], "OK")
        for i in range(n, n + 20):
            sent[i] = message(i).encode()
            self.assertEqual(m.append("Projects", None, None, sent[i])[0], "OK")
        m.logout()
        work = tempfile.mkdtemp(prefix="refmail-offlineimap-")
        try:
            local = os.path.join(work, "mail")
            cert = os.path.join(self.d.data, "tls", "cert.pem")
            fingerprint = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-fingerprint", "-sha512"],
                                         capture_output=True, text=True, check=True).stdout
            fingerprint = fingerprint.strip().split("=", 1)[1].replace(":", "").lower()
            rc = os.path.join(work, "offlineimaprc")
            with open(rc, "w") as f:
                f.write(f"""[general]
accounts = refmail
metadata = {work}/meta
ui = quiet

[Account refmail]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = {local}

[Repository remote]
type = IMAP
remotehost = 127.0.0.1
remoteport = {self.d.ports['imaps']}
remoteuser = {USER}
remotepass = {PW}
ssl = yes
cert_fingerprint = {fingerprint}
folderfilter = lambda folder: folder in ['INBOX', 'Projects']
""")

            def sync():
                r = subprocess.run(["offlineimap", "-c", rc, "-o", "-u", "basic"], capture_output=True, text=True,
                                   timeout=600)
                out = r.stdout + r.stderr
                self.assertEqual(r.returncode, 0, out[-3000:])
                self.assertNotIn("ERROR", out, out[-3000:])
                return out

            def local_files(box):
                out = {}
                for sub in ("cur", "new"):
                    d = os.path.join(local, box, sub)
                    for name in os.listdir(d) if os.path.isdir(d) else []:
                        out[name] = os.path.join(d, name)
                return out

            def by_number(box):
                out = {}
                for name, path in local_files(box).items():
                    with open(path, "rb") as f:
                        raw = f.read()
                    hit = re.search(rb"Subject: sync (\d+)", raw)
                    if hit:
                        out[int(hit.group(1))] = (name, raw)
                return out

            sync()
            inbox, projects = by_number("INBOX"), by_number("Projects")
            self.assertEqual(sorted(inbox), list(range(n)))
            self.assertEqual(sorted(projects), list(range(n, n + 20)))
            # Byte for byte: refmail's Received line on top of delivered mail, then what was
            # sent; appended mail as is (offlineimap writes local files with LF line ends).
            for i, (_, raw) in inbox.items():
                self.assertTrue(raw.replace(b"\n", b"\r\n").endswith(sent[i]), i)
            for i, (_, raw) in projects.items():
                self.assertEqual(raw.replace(b"\n", b"\r\n"), sent[i], i)

            # Local changes: 6 flagged and seen, 4 trashed (T: offlineimap deletes them on
            # the server), 2 new messages in Projects.
            for i in range(6):
                name, _ = inbox[i]
                base, _, flags = name.partition(":2,")
                os.rename(local_files("INBOX")[name],
                          os.path.join(local, "INBOX", "cur", base + ":2," + "".join(sorted(set(flags + "FS")))))
            for i in range(6, 10):
                os.unlink(local_files("INBOX")[inbox[i][0]])
            for k in range(2):
                with open(os.path.join(local, "Projects", "new", f"{int(time.time())}_{k}.local.host"), "wb") as f:
                    f.write(message(9000 + k).encode())
            # Server changes from another client: 5 answered, 3 expunged, one delivery
            # (message i was delivered i-th, so its UID is i + 1).
            m = self.imap()
            m.select("INBOX")
            self.assertEqual(m.uid("STORE", "101:105", "+FLAGS.SILENT", r"(\Answered)")[0], "OK")
            self.assertEqual(m.uid("STORE", "151:153", "+FLAGS.SILENT", r"(\Deleted)")[0], "OK")
            self.assertEqual(m.expunge()[0], "OK")
            m.logout()
            with smtplib.SMTP("127.0.0.1", self.d.ports["smtp"], timeout=60) as s:
                s.sendmail("sender@outside.test", [USER], message(8000))

            sync()
            m = self.imap()
            typ, data = m.select("INBOX")
            self.assertEqual(int(data[0]), n - 4 - 3 + 1)
            self.assertEqual(len(m.search(None, "FLAGGED")[1][0].split()), 6)
            self.assertEqual(len(m.search(None, "ANSWERED")[1][0].split()), 5)
            typ, data = m.select("Projects")
            self.assertEqual(int(data[0]), 22)
            self.assertEqual(len(m.search(None, "SUBJECT", '"sync 9001"')[1][0].split()), 1)
            m.logout()
            inbox = by_number("INBOX")
            self.assertEqual(len(inbox), n - 4 - 3 + 1)
            self.assertIn(8000, inbox)
            self.assertFalse({150, 151, 152} & set(inbox))
            answered = [i for i, (name, _) in inbox.items() if "R" in name.partition(":2,")[2]]
            self.assertEqual(sorted(answered), list(range(100, 105)))

            # A last sync has nothing to do on either side.
            def server_state():
                m = self.imap()
                out = [m.status(box, "(MESSAGES HIGHESTMODSEQ)")[1] for box in ("INBOX", "Projects")]
                m.logout()
                return out
            before = server_state(), sorted(local_files("INBOX")), sorted(local_files("Projects"))
            sync()
            self.assertEqual((server_state(), sorted(local_files("INBOX")), sorted(local_files("Projects"))), before)
        finally:
            shutil.rmtree(work, ignore_errors=True)


class CompressTest(unittest.TestCase):
    """COMPRESS=DEFLATE (RFC 4978) with Python's zlib as the client's codec, over IMAPS."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon()
        cls.d.add_user(USER, PW)

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_compressed_session(self):
        import socket, zlib
        body = "\r\n".join("line %05d " % i + "x" * 60 for i in range(3000))  # ~210 KB
        with smtplib.SMTP("127.0.0.1", self.d.ports["smtp"], timeout=60) as s:
            s.sendmail("sender@outside.test", [USER], message(1, "X-Pad: yes\r\n").replace("Body of message 1.", body))
        raw = socket.create_connection(("127.0.0.1", self.d.ports["imaps"]), timeout=30)
        sock = tls_ctx().wrap_socket(raw)
        buf = b""

        def read_until(tag, inflate=None):
            nonlocal buf
            while True:
                if inflate is None:
                    i = buf.find(tag)
                    if i >= 0:
                        end = buf.index(b"\r\n", i) + 2
                        out, buf = buf[:end], buf[end:]
                        return out
                chunk = sock.recv(65536)
                self.assertTrue(chunk, "connection closed")
                buf += chunk if inflate is None else b""
                if inflate is not None:
                    plain.extend(inflate.decompress(chunk))
                    i = bytes(plain).find(tag)
                    if i >= 0:
                        end = bytes(plain).index(b"\r\n", i) + 2
                        out = bytes(plain[:end])
                        del plain[:end]
                        return out

        plain = bytearray()
        read_until(b"* OK")
        sock.sendall(f"a LOGIN {USER} {PW}\r\n".encode())
        self.assertIn(b"COMPRESS=DEFLATE", read_until(b"a OK"))
        # The command and, pipelined in the same packet, the first compressed command.
        deflate = zlib.compressobj(wbits=-15)
        first = deflate.compress(b"c SELECT INBOX\r\n") + deflate.flush(zlib.Z_SYNC_FLUSH)
        sock.sendall(b"b COMPRESS DEFLATE\r\n" + first)
        self.assertEqual(read_until(b"b "), b"b OK DEFLATE active\r\n")
        inflate = zlib.decompressobj(wbits=-15)
        plain.extend(inflate.decompress(buf))
        buf = b""
        out = read_until(b"c OK", inflate)
        self.assertIn(b"EXISTS", out)
        sock.sendall(deflate.compress(b"d FETCH 1 (BODY.PEEK[])\r\n") + deflate.flush(zlib.Z_SYNC_FLUSH))
        out = read_until(b"d OK", inflate)
        self.assertIn(body.encode(), out)
        sock.sendall(deflate.compress(b"e COMPRESS DEFLATE\r\n") + deflate.flush(zlib.Z_SYNC_FLUSH))
        self.assertIn(b"e NO [COMPRESSIONACTIVE]", read_until(b"e NO", inflate))
        # A corrupt compressed stream ends the connection.
        sock.sendall(b"\xff\xff\xff\xff\xff\xff garbage")
        sock.settimeout(10)
        closed = False
        try:
            for _ in range(10):
                if not sock.recv(65536):
                    closed = True
                    break
        except (ConnectionError, ssl.SSLError, OSError):
            closed = True
        self.assertTrue(closed)
        sock.close()


class ImaplibCommandsTest(unittest.TestCase):
    """Python's imaplib through every command of IMAP4rev1/rev2 and the extensions, and one
    mailbox model with JMAP: a flag set over IMAP is a keyword in JMAP and back, a move
    over JMAP is seen by an IMAP NOOP."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(extra_toml="[smtp]\nplain_auth_on_loopback = true\n")
        cls.d.add_user(USER, PW)
        with smtplib.SMTP("127.0.0.1", cls.d.ports["smtp"], timeout=60) as s:
            for i in range(5):
                s.sendmail("sender@outside.test", [USER], message(i, f"References: <sync{i - 1}@outside.test>\r\n" if i else ""))

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def ok(self, r):
        self.assertEqual(r[0], "OK", r)
        return r[1]

    def test_every_command(self):
        for name, states in (("ID", ("NONAUTH", "AUTH", "SELECTED")), ("UNSELECT", ("SELECTED",)),
                             ("MOVE", ("SELECTED",))):
            imaplib.Commands.setdefault(name, states)
        m = imaplib.IMAP4("127.0.0.1", self.d.ports["imap"], timeout=60)
        caps = m.capabilities
        for want in ("IMAP4REV2", "IDLE", "UIDPLUS", "MOVE", "CONDSTORE", "QRESYNC", "ESEARCH", "SORT",
                     "THREAD=REFERENCES", "QUOTA", "BINARY", "OBJECTID", "COMPRESS=DEFLATE", "SPECIAL-USE"):
            self.assertIn(want, caps)
        self.ok(m.login(USER, PW))
        self.ok(m.noop())
        self.ok(m._simple_command("ID", '("name" "imaplib")'))
        self.ok(m.namespace())
        # Folders.
        self.ok(m.create("Projects/2024"))
        self.assertIn(b'"/" "Projects/2024"', b"".join(self.ok(m.list('""', "*"))))
        self.ok(m.rename("Projects", "Work"))
        self.assertIn(b'"Work/2024"', b"".join(self.ok(m.list('""', "Work/*"))))
        self.ok(m.subscribe("Work"))
        self.assertIn(b'"Work"', b"".join(self.ok(m.lsub('""', "*"))))
        self.ok(m.unsubscribe("Work"))
        self.assertNotIn(b'"Work"', b"".join(x for x in self.ok(m.lsub('""', "*")) if x))
        st = self.ok(m.status("INBOX", "(MESSAGES UNSEEN UIDNEXT UIDVALIDITY HIGHESTMODSEQ SIZE)"))[0]
        self.assertIn(b"MESSAGES 5", st)
        # Selected state.
        typ, data = m.select("INBOX")
        self.assertEqual((typ, data[0]), ("OK", b"5"))
        self.ok(m.check())
        self.assertEqual(self.ok(m.search(None, "ALL"))[0], b"1 2 3 4 5")
        self.assertEqual(self.ok(m.uid("SEARCH", None, "SUBJECT", '"sync 3"'))[0], b"4")
        self.ok(m.store("1", "+FLAGS", r"(\Flagged)"))
        data = self.ok(m.fetch("1", "(FLAGS ENVELOPE BODYSTRUCTURE RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
        blob = b"".join(x if isinstance(x, bytes) else x[0] + x[1] for x in data)
        self.assertIn(b"\\Flagged", blob)
        self.assertIn(b'"sync 0"', blob)
        self.assertIn(b"Subject: sync 0", blob)
        self.assertIn(b'("text" "plain"', blob)
        self.assertEqual(self.ok(m.sort("(REVERSE SUBJECT)", "UTF-8", "ALL"))[0], b"5 4 3 2 1")
        threads = self.ok(m.thread("REFERENCES", "UTF-8", "ALL"))[0]
        self.assertEqual(threads, b"(1 2 3 4 5)")
        copied = m.copy("1:2", "Archive")
        self.assertIn(b"COPYUID", copied[1][0])
        typ, data = m.uid("MOVE", "5", "Trash")
        self.assertEqual(typ, "OK")
        self.ok(m.store("2", "+FLAGS.SILENT", r"(\Deleted)"))
        self.assertEqual(self.ok(m.expunge())[-1], b"2")  # after MOVE's own "5"
        self.ok(m.getquotaroot("INBOX"))
        self.ok(m._simple_command("UNSELECT"))
        self.ok(m.select("Archive", readonly=True))
        self.assertEqual(m.store("1", "+FLAGS", r"(\Seen)")[0], "NO")
        self.ok(m.close())
        app = self.ok(m.append("Drafts", r"(\Draft)", None, message(99).encode()))
        self.assertIn(b"APPENDUID", app[0])
        self.ok(m.delete("Work/2024"))
        self.ok(m.delete("Work"))

        # One mailbox model with JMAP.
        j = JmapClient(self.d.ports["http"], USER, PW)
        boxes = j.mailboxes()
        r = j.call(["Email/query", {"accountId": j.account, "filter": {"inMailbox": boxes["inbox"]},
                                    "sort": [{"property": "receivedAt", "isAscending": True}]}, "q"],
                   ["Email/get", {"accountId": j.account, "properties": ["keywords", "subject"],
                                  "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"}}, "g"])
        # Delivered within a second: receivedAt ties, so by subject, not by order.
        by_subject = {e["subject"]: e for e in r[1][1]["list"]}
        self.assertEqual(sorted(by_subject), ["sync 0", "sync 2", "sync 3"])
        self.assertEqual(by_subject["sync 0"]["keywords"], {"$flagged": True})
        emails = [by_subject["sync 0"], by_subject["sync 2"], by_subject["sync 3"]]
        # JMAP sets $seen on "sync 3" and moves "sync 2" to Archive; IMAP sees both.
        m.select("INBOX")
        m.untagged_responses.clear()
        j.call(["Email/set", {"accountId": j.account, "update": {
            emails[2]["id"]: {"keywords/$seen": True},
            emails[1]["id"]: {"mailboxIds": {boxes["archive"]: True}}}}, "s"])
        typ, data = m.noop()
        untagged = b" ".join(x for x in m.untagged_responses.get("FETCH", []) if isinstance(x, bytes))
        self.assertIn(b"\\Seen", untagged)
        self.assertEqual(m.untagged_responses.get("EXPUNGE"), [b"2"])
        m.logout()


class ImapflowTest(unittest.TestCase):
    """imapflow's QRESYNC resync after changes made over JMAP (tests/clients)."""
    CLIENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients")

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(extra_toml="[smtp]\nplain_auth_on_loopback = true\n")
        cls.d.add_user(USER, PW)

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def node(self, mode, state):
        if not os.path.isdir(os.path.join(self.CLIENTS, "node_modules", "imapflow")):
            self.fail("imapflow is not installed: tools/test.sh runs npm ci --prefix tests/clients")
        r = subprocess.run(["node", os.path.join(self.CLIENTS, "imapflow_resync.mjs"), mode, str(self.d.ports["imap"]),
                            USER, PW, state], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def test_qresync_after_jmap_changes(self):
        with smtplib.SMTP("127.0.0.1", self.d.ports["smtp"], timeout=60) as s:
            for i in range(5):
                s.sendmail("sender@outside.test", [USER], message(i))
        m = imaplib.IMAP4("127.0.0.1", self.d.ports["imap"], timeout=60)
        m.login(USER, PW)
        m.select("INBOX")
        ids = {}
        for item in m.uid("FETCH", "1:*", "(EMAILID)")[1]:
            uid, eid = re.search(rb"UID (\d+) EMAILID \(([^)\s]+)\)", item).groups()
            ids[int(uid)] = eid.decode()
        m.logout()
        self.assertEqual(sorted(ids), [1, 2, 3, 4, 5])
        work = tempfile.mkdtemp(prefix="refmail-imapflow-")
        try:
            state = os.path.join(work, "state.json")
            self.node("snapshot", state)
            with open(state) as f:
                self.assertEqual(sorted(map(int, json.load(f)["flags"])), [1, 2, 3, 4, 5])
            j = JmapClient(self.d.ports["http"], USER, PW)
            r = j.call(["Email/set", {"accountId": j.account, "update": {ids[2]: {"keywords/$flagged": True}},
                                      "destroy": [ids[4]]}, "s"])
            self.assertIn(ids[2], r[0][1]["updated"] or {}, r)
            self.assertEqual(r[0][1]["destroyed"], [ids[4]])
            with smtplib.SMTP("127.0.0.1", self.d.ports["smtp"], timeout=60) as s:
                s.sendmail("sender@outside.test", [USER], message(5))
            out = json.loads(self.node("resync", state))
            self.assertTrue(out["qresync"], out)
            self.assertEqual(out["vanished"], [4], out)
            self.assertIn("\\Flagged", out["changed"].get("2", []), out)
            self.assertNotIn("1", out["changed"], out)  # unchanged messages are not resent
            self.assertEqual(out["fresh"], [6], out)
            self.assertEqual(out["exists"], 5, out)
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()

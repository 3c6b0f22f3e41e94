"""End-to-end: push-triggered import from a real Dovecot (Debian dovecot-imapd +
dovecot-lmtpd, a private instance on loopback with its own base_dir). Mail is
delivered into Dovecot over LMTP; refmaild is told by Dovecot's own push_notification
plugin (ox driver, relayed by a small forwarder to /api/import/notify on the public
port, or on the admin socket while web/router.cpp does not route it), by the same JSON
posted by the test, or finds the mail through its IDLE watcher, then copies it with
UID FETCH. Checks: flags and internal date kept, attachments stored
once (also against blobs refmail already held), repeats are idempotent, bad
notifications refused, Dovecot stopped mid-way then restarted ends with every
message imported exactly once, and no IMAP traffic from refmail while idle. A scripted
IMAP server adds what Dovecot will not do on demand: a drop in the middle of a FETCH
literal (retried; the UID fetched whole before the drop is not fetched again) and a
literal over import.max_message_bytes (skipped, logged). The refmail_import_* series
move on /metrics. A refmaild killed with SIGKILL in the middle of a full copy and
restarted ends with every message imported exactly once.
Waits are conditions with generous bounds (the machine may be loaded), never sleeps
that assume a speed: "nothing more happens" is checked once the import queue is empty."""
import base64, http.client, json, os, pwd, re, shutil, smtplib, socket, subprocess, tempfile, time, unittest
from harness import Daemon, free_port, main, UnixHTTP

TOKEN = "tok-0123456789abcdef"
WAIT = 120  # seconds: the bound of every condition wait


def wait_for(cond, timeout=WAIT, interval=0.2, what="condition"):
    """Polls cond() until it returns a true value (returned); fails after `timeout`."""
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def admin_get(sock, path):
    c = UnixHTTP(sock)
    c.request("GET", path)
    r = c.getresponse()
    doc = json.loads(r.read() or b"null")
    c.close()
    return r.status, doc


def queue_empty(sock):
    """True when no import job is queued (every notification so far has been handled)."""
    s, doc = admin_get(sock, "/admin/v1/import")
    return s == 200 and doc["queued_jobs"] == 0


def scrape(http_port):
    """/metrics as {series: value} (loopback may read it without a login)."""
    c = http.client.HTTPConnection("127.0.0.1", http_port, timeout=30)
    c.request("GET", "/metrics")
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([a-z_]+(?:\{[^}]*\})?) (\S+)$", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


class Forwarder:
    """Where Dovecot's ox driver posts: relays each request to refmaild's
    /api/import/notify on the public HTTP port, or (while web/router.cpp does not
    route it) on the admin socket. Records what Dovecot sent."""

    def __init__(self):
        import http.server, threading
        self.port = free_port()
        self.seen = []
        self.target = None  # (http_port, admin_socket)
        fwd = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_PUT(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fwd.seen.append((self.command, self.path, self.headers.get("Authorization", ""), body))
                status = fwd.forward(self.command, self.path, dict(self.headers), body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def forward(self, method, path, headers, body):
        if not self.target:
            return 503
        http_port, sock = self.target
        h = {k: v for k, v in headers.items() if k.lower() in ("authorization", "content-type")}
        c = http.client.HTTPConnection("127.0.0.1", http_port, timeout=30)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        r.read()
        c.close()
        if r.status != 404:
            return r.status
        c = UnixHTTP(sock)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        r.read()
        c.close()
        return r.status

    def close(self):
        self.srv.shutdown()


class Dovecot:
    def __init__(self, notify_url=None, mail_location="maildir:~/Maildir"):
        self.dir = tempfile.mkdtemp(prefix="refmail-dovecot-")
        os.chmod(self.dir, 0o755)
        self.imap_port, self.lmtp_port = free_port(), free_port()
        self.conf = os.path.join(self.dir, "dovecot.conf")
        uid = pwd.getpwnam("nobody").pw_uid
        for d in ("base", "state", "mail"):
            os.makedirs(os.path.join(self.dir, d))
        os.chown(os.path.join(self.dir, "mail"), uid, uid)
        with open(self.conf, "w") as f:
            f.write(f"""protocols = imap lmtp
listen = 127.0.0.1
base_dir = {self.dir}/base
state_dir = {self.dir}/state
instance_name = refmail-import-test
log_path = {self.dir}/dovecot.log
info_log_path = {self.dir}/dovecot-info.log
mail_debug = no
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
auth_master_user_separator = *
passdb {{
  driver = static
  args = password=pass
  master = yes
  result_success = continue
}}
passdb {{
  driver = static
  args = password=pass
}}
userdb {{
  driver = static
  args = uid={uid} gid={uid} home={self.dir}/mail/%n
}}
mail_location = {mail_location}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp_port}
  }}
}}
protocol imap {{
  imap_idle_notify_interval = 1 secs
  imap_metadata = yes
}}
mail_attribute_dict = file:%h/dovecot-attributes
""" + ("" if not notify_url else f"""mail_plugins = $mail_plugins notify push_notification
plugin {{
  push_notification_driver = ox:url={notify_url} user_from_metadata
}}
""") + f"""
protocol lmtp {{
  postmaster_address = postmaster@legacy.test
}}
""")
        self.start()

    def start(self):
        # Dovecot daemonizes: its children must not hold our pipes open.
        out = os.path.join(self.dir, "startup.log")
        with open(out, "ab") as log:
            r = subprocess.run(["dovecot", "-c", self.conf], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        if r.returncode != 0:
            with open(out) as f:
                raise RuntimeError("dovecot did not start: " + f.read())
        deadline = time.time() + WAIT
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.imap_port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError("dovecot imap port not open")

    def pid(self):
        try:
            with open(os.path.join(self.dir, "base", "master.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def stop(self):
        p = self.pid()
        if p:
            os.kill(p, 15)
            for _ in range(100):
                try:
                    os.kill(p, 0)
                except OSError:
                    return
                time.sleep(0.1)
            os.kill(p, 9)

    def deliver(self, rcpt, msg):
        with smtplib.LMTP("127.0.0.1", self.lmtp_port) as l:
            l.sendmail("sender@outside.test", [rcpt], msg)

    def deliver_many(self, rcpt, msgs):
        """Several messages over one LMTP session."""
        with smtplib.LMTP("127.0.0.1", self.lmtp_port) as l:
            for m in msgs:
                l.sendmail("sender@outside.test", [rcpt], m)

    def enable_push(self, user):
        """The ox driver notifies only users with this METADATA entry (RFC 5464)."""
        import imaplib
        imaplib.Commands.setdefault("SETMETADATA", ("AUTH", "SELECTED"))
        m = self.imap(user)
        typ, _ = m._simple_command("SETMETADATA", '""',
                                   f'(/private/vendor/vendor.dovecot/http-notify "user={user}")')
        m.logout()
        if typ != "OK":
            raise RuntimeError("SETMETADATA failed")

    def imap(self, user="alice"):
        import imaplib
        m = imaplib.IMAP4("127.0.0.1", self.imap_port)
        m.login(user, "pass")
        return m

    def logins(self):
        try:
            with open(os.path.join(self.dir, "dovecot-info.log")) as f:
                return f.read().count("imap-login: Login:")
        except OSError:
            return 0

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def message(i, attachment=None, name="report.pdf"):
    head = (f"From: sender@outside.test\r\nTo: alice@legacy.test\r\nSubject: legacy {i}\r\n"
            f"Message-ID: <legacy-{i}-{time.time()}@legacy.test>\r\nMIME-Version: 1.0\r\n")
    if attachment is None:
        return (head + "Content-Type: text/plain\r\n\r\nhello " + str(i) + "\r\n").encode()
    b64 = base64.b64encode(attachment).decode()
    body = "\r\n".join(b64[j:j + 76] for j in range(0, len(b64), 76))
    return (head + 'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n'
            f"see {i}\r\n--b1\r\nContent-Type: application/pdf; name=\"{name}\"\r\n"
            f"Content-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            f"{body}\r\n--b1--\r\n").encode()


@unittest.skipUnless(shutil.which("dovecot") and os.geteuid() == 0,
                     "needs Debian's dovecot-imapd/dovecot-lmtpd (tools/install-deps.sh --test) and root")
class Import(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fwd = Forwarder()
        # Dovecot's own push_notification (ox driver) for source legacy2 (Basic auth
        # with the source name and its token, as the ox URL carries them).
        cls.dc = Dovecot(notify_url=f"http://legacy2:{TOKEN}-2@127.0.0.1:{cls.fwd.port}"
                                    "/api/import/notify?source=legacy2")
        toml = f"""
[import]
coalesce_window = 1
batch_size = 3
retry_schedule = [1]
timeout = 30  # a loaded machine must not turn a slow answer into a retry

[[import.sources]]
name = "legacy"
host = "127.0.0.1"
port = {cls.dc.imap_port}
tls = "none"
token = "{TOKEN}"
idle = true

[[import.mappings]]
source = "legacy"
user = "alice"
account = "alice@example.test"
password = "pass"

[[import.sources]]
name = "legacy2"
host = "127.0.0.1"
port = {cls.dc.imap_port}
tls = "none"
token = "{TOKEN}-2"
master_user = "admin"
master_password = "pass"

[[import.mappings]]
source = "legacy2"
user = "carol"
account = "carol@example.test"

[[import.mappings]]
source = "legacy2"
user = "dave"
account = "dave@example.test"
password_file = "{cls.dc.dir}/dave.pw"
"""
        with open(os.path.join(cls.dc.dir, "dave.pw"), "w") as f:
            f.write("pass\n")
        # IDLE watchers start with the daemon; they need the account first, so the
        # daemon is started, the user added, and the daemon restarted.
        cls.d = Daemon(extra_toml=toml)
        cls.d.add_user("alice@example.test", "pw-alice-123")
        cls.d.add_user("bob@example.test", "pw-bob-1234")
        cls.d.add_user("carol@example.test", "pw-carol-123")
        cls.d.add_user("dave@example.test", "pw-dave-1234")
        cls.sock = os.path.join(cls.d.data, "refmaild.sock")
        cls.fwd.target = (cls.d.ports["http"], cls.sock)
        cls.dc.enable_push("carol")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.dc.cleanup()
        cls.fwd.close()

    def api(self, method, path, body=None, headers=None):
        c = UnixHTTP(self.sock)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, (json.loads(data) if data else None)

    def public(self, method, path, body=None, headers=None):
        """A request on refmaild's public HTTP port, where a legacy server posts."""
        c = http.client.HTTPConnection("127.0.0.1", self.d.ports["http"], timeout=30)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        try:
            return r.status, (json.loads(data) if data else None)
        except ValueError:
            return r.status, data

    def notify(self, uid, token=TOKEN, user="alice", folder="INBOX"):
        # What Dovecot's push_notification ox driver posts (plus ?source=).
        body = json.dumps({"user": user, "event": "messageNew", "folder": folder,
                           "imap-uidvalidity": self.uidvalidity(), "imap-uid": uid,
                           "from": "sender@outside.test", "subject": "x", "unseen": 1})
        return self.public("PUT", "/api/import/notify?source=legacy", body,
                           {"Authorization": "Bearer " + token, "Content-Type": "application/json"})

    def uidvalidity(self):
        m = self.dc.imap()
        typ, data = m.status("INBOX", "(UIDVALIDITY)")
        m.logout()
        return int(data[0].decode().split("UIDVALIDITY ")[1].rstrip(")"))

    def rows(self, account="alice@example.test"):
        s, doc = self.api("GET", f"/admin/v1/rows/{account}?mailbox=INBOX")
        self.assertEqual(s, 200, doc)
        return doc["rows"]

    def wait_rows(self, n, timeout=WAIT, account="alice@example.test"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = self.rows(account)
            if len(r) >= n:
                return r
            time.sleep(0.3)
        self.fail(f"expected {n} rows, have {len(self.rows(account))}\n{self.d.tail(30)}")

    def settle(self):
        """Waits until the import queue is empty: every notification sent so far has
        been handled (a 202 means its job was durably queued first)."""
        wait_for(lambda: queue_empty(self.sock), what="an empty import queue\n" + self.d.tail(20))

    def metric(self, name, source="legacy"):
        return scrape(self.d.ports["http"]).get(f'{name}{{source="{source}"}}')

    def stats(self):
        return self.d.stats()

    def test_1_webhook_import_flags_dedup(self):
        att = os.urandom(60000)
        # refmail already holds the attachment (bob got it over SMTP).
        with smtplib.SMTP("127.0.0.1", self.d.ports["smtp"]) as s:
            s.sendmail("sender@outside.test", ["bob@example.test"], message(0, att, "held.pdf"))
        phys0 = self.stats()["physical_bytes"]
        for i in range(1, 5):
            self.dc.deliver("alice@legacy.test", message(i, att if i <= 3 else None))
        m = self.dc.imap()
        m.select("INBOX")
        m.uid("STORE", "2", "+FLAGS", "(\\Seen \\Flagged)")
        m.logout()
        for uid in (1, 2, 3, 4):
            s, doc = self.notify(uid)
            self.assertEqual(s, 202, doc)
        rows = self.wait_rows(4)
        self.settle()
        self.assertEqual(len(self.rows()), 4)
        kw = {r["uid"]: r["keywords"] for r in rows}
        self.assertIn(["$flagged", "$seen"], [sorted(k) for k in kw.values()])
        # The three copies of the attachment and the one refmail held cost nothing new.
        grown = self.stats()["physical_bytes"] - phys0
        self.assertLess(grown, len(att) // 2, grown)
        # Repeats are idempotent.
        for uid in (1, 2, 3, 4):
            s, _ = self.notify(uid)
            self.assertEqual(s, 202)
        self.settle()
        self.assertEqual(len(self.rows()), 4)
        # The HTML view: the recipient reads it, another account gets 404.
        mid = rows[0]["message_id"]
        auth = lambda u, p: {"Authorization": "Basic " + base64.b64encode(f"{u}:{p}".encode()).decode()}
        s, page = self.public("GET", f"/api/messages/{mid}.html", headers=auth("alice@example.test", "pw-alice-123"))
        self.assertEqual(s, 200)
        self.assertIn(b"<html", page.lower() if isinstance(page, bytes) else b"")
        s, _ = self.public("GET", f"/api/messages/{mid}.html", headers=auth("bob@example.test", "pw-bob-1234"))
        self.assertEqual(s, 404)

    def test_2_bad_notifications(self):
        s, _ = self.notify(1, token="tok-wrong-wrong-wrong")
        self.assertEqual(s, 401)
        s, _ = self.notify(1, user="nobody-here")
        self.assertEqual(s, 404)
        s, _ = self.public("POST", "/api/import/notify?source=legacy", "{not json",
                           {"Authorization": "Bearer " + TOKEN})
        self.assertEqual(s, 400)
        s, _ = self.public("POST", "/api/import/notify?source=other", json.dumps({"user": "alice", "uids": [1]}),
                           {"Authorization": "Bearer " + TOKEN})
        self.assertEqual(s, 401)

    def test_3_idle_trigger_without_webhook(self):
        before = len(self.rows())
        self.dc.deliver("alice@legacy.test", message(50))
        self.wait_rows(before + 1)
        self.settle()
        self.assertEqual(len(self.rows()), before + 1)

    def test_4_source_down_then_up_exactly_once(self):
        before = len(self.rows())
        for i in range(60, 66):
            self.dc.deliver("alice@legacy.test", message(i))
        m = self.dc.imap()
        m.select("INBOX")
        typ, data = m.uid("SEARCH", "ALL")
        uids = [int(x) for x in data[0].split()][-6:]
        m.logout()
        failures0 = self.metric("refmail_import_failures_total")
        self.dc.stop()
        for u in uids:
            self.assertEqual(self.notify_noverify(u), 202)
        # At least one attempt failed while Dovecot was down (counted on /metrics).
        wait_for(lambda: self.metric("refmail_import_failures_total") > failures0, what="a failed attempt")
        self.dc.start()
        self.wait_rows(before + 6)
        self.settle()
        self.assertEqual(len(self.rows()), before + 6)
        s, doc = self.api("GET", "/admin/v1/import")
        self.assertEqual(s, 200)
        src = doc["sources"][0]
        self.assertEqual(src["source"], "legacy")
        self.assertGreaterEqual(src["messages"], 10)

    def notify_noverify(self, uid):
        body = json.dumps({"source": "legacy", "user": "alice", "mailbox": "INBOX", "uids": [uid]})
        s, _ = self.api("POST", "/api/import/notify", body, {"Authorization": "Bearer " + TOKEN})
        return s

    def test_6_dovecot_push_notification_with_master_login(self):
        # legacy2 has no IDLE watcher: Dovecot's push_notification (ox driver) is what
        # brings the mail, and refmail logs in with the master user (carol*admin).
        n0 = len(self.fwd.seen)
        for i in range(70, 72):
            self.dc.deliver("carol@legacy.test", message(i))
        self.wait_rows(2, account="carol@example.test")
        sent = self.fwd.seen[n0:]
        self.assertEqual(len(sent), 2)
        method, path, auth, body = sent[0]
        self.assertEqual(method, "PUT")
        self.assertTrue(auth.startswith("Basic "))
        doc = json.loads(body)
        self.assertEqual((doc["user"], doc["event"], doc["folder"]), ("carol", "messageNew", "INBOX"))
        self.settle()
        self.assertEqual(len(self.rows("carol@example.test")), 2)

    def test_7_import_run_full_copy(self):
        for i in range(80, 85):
            self.dc.deliver("dave@legacy.test", message(i))
        out = self.d.ctl("import", "run", "legacy2", "dave").stdout
        self.assertIn("queued full copy of legacy2/dave/INBOX", out)
        self.wait_rows(5, account="dave@example.test")
        self.settle()
        self.d.ctl("import", "run", "legacy2", "dave")
        self.settle()  # the second full copy ran and found everything done
        self.assertEqual(len(self.rows("dave@example.test")), 5)
        st = self.d.ctl("import", "status").stdout
        self.assertIn("source legacy2", st)
        self.assertIn("source legacy ", st)
        doc = json.loads(self.d.ctl("import", "status", "--json").stdout)
        by = {x["source"]: x for x in doc["sources"]}
        self.assertGreaterEqual(by["legacy2"]["messages"], 7)
        # test_1: three copies of an attachment refmail already held, none stored again.
        self.assertGreaterEqual(by["legacy"]["dedup_saved_bytes"], 3 * 60000)
        self.assertIn("saved by dedup", st)

    def test_8_metrics_move(self):
        m0 = scrape(self.d.ports["http"])
        get = lambda m, name, src="legacy": m[f'{name}{{source="{src}"}}']
        # What the earlier tests did is already counted.
        self.assertGreaterEqual(get(m0, "refmail_import_messages_total"), 11)
        self.assertGreaterEqual(get(m0, "refmail_import_dedup_saved_bytes_total"), 3 * 60000)
        self.assertGreaterEqual(get(m0, "refmail_import_failures_total"), 1)  # Dovecot down (test_4)
        self.assertIn('refmail_import_idle_failures_total{source="legacy"}', m0)
        self.assertGreaterEqual(get(m0, "refmail_import_messages_total", "legacy2"), 7)
        self.assertEqual(get(m0, "refmail_import_idle_watchers", "legacy2"), 0)  # legacy2 has no IDLE
        self.assertIn('refmail_import_jobs_queued{source="legacy"}', m0)
        # One more message through the webhook: every series moves.
        t0 = time.time()
        before = len(self.rows())
        body = message(90, os.urandom(5000))
        self.dc.deliver("alice@legacy.test", body)
        m = self.dc.imap()
        m.select("INBOX")
        typ, data = m.uid("SEARCH", "ALL")
        m.logout()
        self.assertEqual(self.notify(int(data[0].split()[-1]))[0], 202)
        self.wait_rows(before + 1)
        self.settle()
        m1 = wait_for(lambda: (lambda x: x if get(x, "refmail_import_messages_total") >
                               get(m0, "refmail_import_messages_total") else None)(scrape(self.d.ports["http"])),
                      what="refmail_import_messages_total to move")
        self.assertEqual(get(m1, "refmail_import_messages_total") - get(m0, "refmail_import_messages_total"), 1)
        self.assertGreaterEqual(get(m1, "refmail_import_bytes_total") - get(m0, "refmail_import_bytes_total"),
                                len(body))
        self.assertGreaterEqual(get(m1, "refmail_import_batches_total"), get(m0, "refmail_import_batches_total") + 1)
        self.assertGreaterEqual(get(m1, "refmail_import_notifications_total"),
                                get(m0, "refmail_import_notifications_total") + 1)
        self.assertGreaterEqual(get(m1, "refmail_import_jobs_enqueued_total"),
                                get(m0, "refmail_import_jobs_enqueued_total") + 1)
        self.assertGreaterEqual(get(m1, "refmail_import_jobs_done_total"), get(m0, "refmail_import_jobs_done_total") + 1)
        self.assertGreaterEqual(get(m1, "refmail_import_last_success_timestamp_seconds"), int(t0))
        wait_for(lambda: self.metric("refmail_import_jobs_queued") == 0, what="the queued-jobs gauge at 0")
        self.assertEqual(get(m1, "refmail_import_idle_watchers"), 1)  # alice's INBOX watcher

    def test_5_no_traffic_while_idle(self):
        # Quiet first: no job queued, the IDLE watcher back (Dovecot restarted in
        # test_4) and no login for 3 s; then 5 s in which nothing may log in.
        def quiet():
            if not queue_empty(self.sock) or self.metric("refmail_import_idle_watchers") != 1:
                return False
            n = self.dc.logins()
            time.sleep(3)
            return queue_empty(self.sock) and self.dc.logins() == n
        wait_for(quiet, what="a quiet import worker")
        n0 = self.dc.logins()
        time.sleep(5)  # the span over which no traffic is asserted, not a wait for work
        self.assertEqual(self.dc.logins(), n0)


@unittest.skipUnless(shutil.which("dovecot") and os.geteuid() == 0,
                     "needs Debian's dovecot-imapd/dovecot-lmtpd (tools/install-deps.sh --test) and root")
class KillDuringImport(unittest.TestCase):
    """refmaild is killed with SIGKILL in the middle of a full copy (some messages
    committed, most not) and restarted: the job resumes and every message of the
    source mailbox ends up imported exactly once (the done key commits with the
    message, so no kill can separate them)."""

    N = 150

    def test_kill9_mid_batch_then_restart_imports_each_once(self):
        dc = Dovecot()
        d = None
        try:
            att = lambda i: os.urandom(24000) + str(i).encode()
            dc.deliver_many("frank@legacy.test", [message(1000 + i, att(i), f"f{i}.bin") for i in range(self.N)])
            d = Daemon(extra_toml=import_toml("legacy", dc.imap_port, "frank", "frank@example.test", "pass",
                                              "coalesce_window = 0\nbatch_size = 10\nretry_schedule = [1]\ntimeout = 20\n"))
            d.add_user("frank@example.test", "pw-frank-12345")
            sock = os.path.join(d.data, "refmaild.sock")
            count = lambda: len(admin_get(sock, "/admin/v1/rows/frank@example.test?mailbox=INBOX")[1]["rows"])
            self.assertIn("queued full copy", d.ctl("import", "run", "legacy", "frank").stdout)
            at_kill = wait_for(lambda: count() or None, interval=0.02, what="the first imported message")
            d.kill9()
            self.assertLess(at_kill, self.N, "the copy finished before the kill: nothing was tested")
            d.start()
            wait_for(lambda: count() >= self.N and queue_empty(sock), what=f"{self.N} rows\n" + d.tail(20))
            self.assertEqual(count(), self.N, d.tail(30))
            # Exactly once, by content: every subject once.
            req, session, acc = jmap_client(d.ports["http"], "frank@example.test", "pw-frank-12345")
            call = {"using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"],
                    "methodCalls": [["Email/query", {"accountId": acc, "limit": 1000}, "q"],
                                    ["Email/get", {"accountId": acc, "properties": ["subject"],
                                                   "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"}},
                                     "g"]]}
            st, body = req("POST", "/jmap/api", json.dumps(call).encode())
            self.assertEqual(st, 200, body)
            subjects = sorted(e["subject"] for e in json.loads(body)["methodResponses"][1][1]["list"])
            self.assertEqual(subjects, sorted(f"legacy {1000 + i}" for i in range(self.N)))
            with open(d.log_path) as f:
                log = f.read()
            self.assertNotIn("import.duplicate", log)  # no fingerprint fallback was needed
        finally:
            if d:
                d.cleanup()
            dc.cleanup()


class ScriptedImap:
    """A tiny IMAP server for failure cases Dovecot will not produce on demand: the
    first connection drops in the middle of a FETCH literal; later ones answer. UID 3
    is larger than refmail's max_message_bytes."""

    def __init__(self):
        import threading
        self.port = free_port()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(8)
        self.connections = 0
        self.fetches = []
        self.msgs = {1: message(1), 2: message(2), 3: message(3) + b"x" * 3000}
        self.uidvalidity = 42
        self.drop_first = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            try:
                self.session(c, self.connections)
            except OSError:
                pass
            finally:
                c.close()

    def session(self, c, n):
        f = c.makefile("rb")
        c.sendall(b"* OK scripted ready\r\n")
        for line in f:
            parts = line.decode().strip().split(" ")
            tag, cmd = parts[0], parts[1].upper()
            if cmd == "LOGIN":
                c.sendall(tag.encode() + b" OK logged in\r\n")
            elif cmd == "EXAMINE":
                c.sendall(f"* {len(self.msgs)} EXISTS\r\n* OK [UIDVALIDITY {self.uidvalidity}] ok\r\n".encode() +
                          tag.encode() + b" OK [READ-ONLY] done\r\n")
            elif cmd == "UID" and parts[2].upper() == "SEARCH":
                c.sendall(("* SEARCH " + " ".join(str(u) for u in sorted(self.msgs)) + "\r\n").encode() +
                          tag.encode() + b" OK search done\r\n")
            elif cmd == "UID" and parts[2].upper() == "FETCH":
                uids = []
                for r in parts[3].split(","):
                    a, _, b = r.partition(":")
                    uids += list(range(int(a), int(b or a) + 1))
                self.fetches.append(uids)
                for i, u in enumerate(uids):
                    if u not in self.msgs:
                        continue  # expunged: nothing is returned for it
                    body = self.msgs[u]
                    head = f"* {u} FETCH (UID {u} FLAGS (\\Seen) INTERNALDATE \" 2-Jan-2024 10:00:00 +0000\" BODY[] {{{len(body)}}}\r\n"
                    if n == 1 and i == 1 and self.drop_first:
                        c.sendall(head.encode() + body[: len(body) // 2])
                        return  # drop mid-literal
                    c.sendall(head.encode() + body + b")\r\n")
                c.sendall(tag.encode() + b" OK fetch done\r\n")
            elif cmd == "LOGOUT":
                c.sendall(b"* BYE bye\r\n" + tag.encode() + b" OK\r\n")
                return
            else:
                c.sendall(tag.encode() + b" BAD unknown\r\n")

    def close(self):
        self.sock.close()


def import_toml(source, port, user, account, password, import_keys, mapping_keys=""):
    """refmaild config for one plain-IMAP source with one mapping; `import_keys` are the
    [import] lines (TOML text), `mapping_keys` extra lines of the mapping."""
    return f"""
[import]
{import_keys}
[[import.sources]]
name = "{source}"
host = "127.0.0.1"
port = {port}
tls = "none"
token = "{TOKEN}"

[[import.mappings]]
source = "{source}"
user = "{user}"
account = "{account}"
password = "{password}"
{mapping_keys}"""


def scripted_toml(srv, max_message_bytes=2048, mapping_keys=""):
    return import_toml("scripted", srv.port, "erin", "erin@example.test", "pw", f"""coalesce_window = 0
batch_size = 10
retry_schedule = [1]
timeout = 30  # drops are seen at once (EOF); no slow answer may time out
max_message_bytes = {max_message_bytes}
""", mapping_keys)


def erin_rows(sock):
    c = UnixHTTP(sock)
    c.request("GET", "/admin/v1/rows/erin@example.test?mailbox=INBOX")
    rows = json.loads(c.getresponse().read())["rows"]
    c.close()
    return rows


def erin_notify(sock, uids, uidvalidity=None):
    doc = {"source": "scripted", "user": "erin", "uids": uids}
    if uidvalidity:
        doc["uidvalidity"] = uidvalidity
    c = UnixHTTP(sock)
    c.request("POST", "/api/import/notify", body=json.dumps(doc), headers={"Authorization": "Bearer " + TOKEN})
    status = c.getresponse().status
    c.close()
    return status


class Scripted(unittest.TestCase):
    def test_uidvalidity_change_reconciles_without_duplicates(self):
        srv = ScriptedImap()
        srv.drop_first = False
        srv.msgs = {1: message(1), 2: message(2)}
        d = Daemon(extra_toml=scripted_toml(srv))
        try:
            d.add_user("erin@example.test", "pw-erin-12345")
            sock = os.path.join(d.data, "refmaild.sock")
            self.assertEqual(erin_notify(sock, [1, 2], 42), 202)
            wait_for(lambda: len(erin_rows(sock)) >= 2 and queue_empty(sock), what="2 rows")
            self.assertEqual(len(erin_rows(sock)), 2)
            # The source renumbers its mailbox (new UIDVALIDITY): same two messages
            # under new UIDs, plus one new message.
            old = srv.msgs
            srv.msgs = {7: old[1], 8: old[2], 9: message(9)}
            srv.uidvalidity = 43
            self.assertEqual(erin_notify(sock, [9], 43), 202)
            wait_for(lambda: len(erin_rows(sock)) >= 3 and queue_empty(sock), what="3 rows\n" + d.tail(20))
            self.assertEqual(len(erin_rows(sock)), 3, d.tail(30))
            with open(d.log_path) as f:
                log = f.read()
            self.assertIn("import.uidvalidity_changed", log)
        finally:
            d.cleanup()
            srv.close()

    def test_drop_mid_fetch_and_oversized_literal(self):
        srv = ScriptedImap()
        d = Daemon(extra_toml=scripted_toml(srv))
        try:
            d.add_user("erin@example.test", "pw-erin-12345")
            sock = os.path.join(d.data, "refmaild.sock")
            c = UnixHTTP(sock)
            c.request("POST", "/api/import/notify",
                      body=json.dumps({"source": "scripted", "user": "erin", "uids": [1, 2, 3]}),
                      headers={"Authorization": "Bearer " + TOKEN})
            self.assertEqual(c.getresponse().status, 202)
            c.close()
            # Done when both messages are in and the retried job left the queue.
            wait_for(lambda: len(erin_rows(sock)) >= 2 and srv.connections >= 2 and queue_empty(sock),
                     what="2 rows after the retry\n" + d.tail(20))
            c = UnixHTTP(sock)
            c.request("GET", "/admin/v1/rows/erin@example.test?mailbox=INBOX")
            rows = json.loads(c.getresponse().read())["rows"]
            c.close()
            # UID 1 came whole before the drop, UID 2 after the retry, UID 3 is too large.
            self.assertEqual(len(rows), 2, d.tail(30))
            self.assertEqual([sorted(r["keywords"]) for r in rows], [["$seen"], ["$seen"]])
            self.assertEqual(rows[0]["internal_date"], 1704189600)
            self.assertEqual(srv.fetches[0], [1, 2, 3])
            self.assertEqual(srv.fetches[1], [2, 3])  # UID 1 is not fetched again
            with open(d.log_path) as f:
                log = f.read()
            self.assertIn("import.too_large", log)
            self.assertIn("import.retry", log)
        finally:
            d.cleanup()
            srv.close()


def jmap_client(port, user, password):
    """(request, session, accountId) for one account on the public HTTP port."""
    import urllib.request, urllib.error
    auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def request(method, path, body=None):
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method)
        req.add_header("Authorization", auth)
        if body is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    st, body = request("GET", "/.well-known/jmap")
    assert st == 200, (st, body)
    session = json.loads(body)
    return request, session, session["primaryAccounts"]["urn:ietf:params:jmap:mail"]


class GrantRecipients(unittest.TestCase):
    """import.mappings grant_recipients: the imported message's local To/Cc recipients
    may download its attachments (grant only, no mailbox row); others get 404."""

    def test_local_recipients_get_download_grants(self):
        srv = ScriptedImap()
        srv.drop_first = False
        att = os.urandom(20000)
        b64 = base64.b64encode(att).decode()
        lines = "\r\n".join(b64[j:j + 76] for j in range(0, len(b64), 76))
        srv.msgs = {1: ("From: sender@outside.test\r\nTo: Erin <erin@example.test>, Bob <BOB@example.test>\r\n"
                        "Cc: someone@elsewhere.test,\r\n team@example.test\r\nSubject: granted\r\n"
                        "Message-ID: <grant-1@legacy.test>\r\nMIME-Version: 1.0\r\n"
                        'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n'
                        "see attached\r\n--b1\r\nContent-Type: application/pdf; name=\"g.pdf\"\r\n"
                        "Content-Disposition: attachment; filename=\"g.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                        f"{lines}\r\n--b1--\r\n").encode()}
        toml = scripted_toml(srv, max_message_bytes=1048576, mapping_keys="grant_recipients = true\n")
        d = Daemon(extra_toml=toml)
        try:
            users = {"erin@example.test": "pw-erin-12345", "bob@example.test": "pw-bob-123456",
                     "carol@example.test": "pw-carol-12345", "dave@example.test": "pw-dave-123456"}
            for u, p in users.items():
                d.add_user(u, p)
            # team@ is an alias: its local target carol is a recipient too.
            d.ctl("alias", "add", "team@example.test", "carol@example.test")
            sock = os.path.join(d.data, "refmaild.sock")
            self.assertEqual(erin_notify(sock, [1], 42), 202)
            wait_for(lambda: len(erin_rows(sock)) >= 1 and queue_empty(sock), what="1 row\n" + d.tail(20))
            self.assertEqual(len(erin_rows(sock)), 1, d.tail(30))

            port = d.ports["http"]
            req, session, acc = jmap_client(port, "erin@example.test", users["erin@example.test"])
            call = {"using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"],
                    "methodCalls": [["Email/query", {"accountId": acc}, "q"],
                                    ["Email/get", {"accountId": acc, "properties": ["attachments"],
                                                   "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"}},
                                     "g"]]}
            st, body = req("POST", "/jmap/api", json.dumps(call).encode())
            self.assertEqual(st, 200, body)
            emails = json.loads(body)["methodResponses"][1][1]["list"]
            self.assertEqual(len(emails), 1)
            blob = emails[0]["attachments"][0]["blobId"]

            def download(user):
                r, sess, a = jmap_client(port, user, users[user])
                url = (sess["downloadUrl"].replace("{accountId}", a).replace("{blobId}", blob)
                       .replace("{name}", "g.pdf").replace("{type}", "application%2Fpdf"))
                return r("GET", url)

            for user in ("erin@example.test", "bob@example.test", "carol@example.test"):
                st, data = download(user)
                self.assertEqual(st, 200, (user, data[:200]))
                self.assertEqual(data, att, user)
            st, _ = download("dave@example.test")
            self.assertEqual(st, 404)
            # import.commit is logged just after the commit made the row visible.
            def commit_lines():
                with open(d.log_path) as f:
                    return "".join(l for l in f if "import.commit" in l)
            wait_for(lambda: "grants=2" in commit_lines(), what="grants=2 in the import.commit log line")
            # A grant, not a copy: nothing in bob's or carol's mailboxes.
            for user in ("bob@example.test", "carol@example.test"):
                c = UnixHTTP(sock)
                c.request("GET", f"/admin/v1/rows/{user}?mailbox=INBOX")
                self.assertEqual(json.loads(c.getresponse().read())["rows"], [], user)
                c.close()
        finally:
            d.cleanup()
            srv.close()


if __name__ == "__main__":
    main()

"""End-to-end: the webmail in a real browser. refmaild serves web/ui/dist; mail arrives
over SMTP (smtplib); playwright-core drives Debian's /usr/bin/chromium (headless,
--no-sandbox) through the specs in tests/browser/*.mjs, which print one RESULT line.
Checked here: sign-in; a message with a 5 MB attachment opens with no /jmap/download
request until a download is clicked; downloads from the list and from the message are
byte-identical to what was sent; an XSS message runs nothing; actions, search and live
updates; a reply with a new attachment (uploaded once; a file already held is found by
the digest pre-check) and a forward keeping the original attachment by blobId reach
local recipients with no new blob bytes for the forwarded file; the admin page shows
`refmailctl stats --json`'s numbers. Screenshots go to $REFMAIL_BUILD_DIR/artifacts/webmail.
Prerequisites (node, chromium, tests/browser/node_modules, web/ui/dist) are installed by
tools/test.sh; when one is missing the test fails under CI=true and is skipped otherwise."""
import base64, hashlib, json, os, random, shutil, smtplib, subprocess, tempfile, unittest, urllib.request
from email.message import EmailMessage
from email.utils import make_msgid
from harness import BUILD, Daemon, main

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BROWSER = os.path.join(ROOT, "tests", "browser")
DIST = os.path.join(ROOT, "web", "ui", "dist")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = os.path.join(os.path.abspath(BUILD), "artifacts", "webmail")

BIG_NAME = "dataset-2026.bin"
BIG_SUBJECT = "Quarterly dataset"
XSS_SUBJECT = "Totally harmless newsletter"
HTML_SUBJECT = "Styled announcement"
REPLY_SUBJECT = "Project plan"
ACTIONS_SUBJECT = "Please file this"
SEARCH_WORD = "zanzibar"
LONG_SUBJECT = "Very long newsletter"
SMALL_NAME = "readme.txt"
SMALL_TEXT = b"Columns: id, value, weight.\r\n" * 20


def missing_prerequisites():
    missing = []
    if not shutil.which("node"):
        missing.append("node (apt-get install nodejs)")
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if not os.path.isdir(os.path.join(BROWSER, "node_modules", "playwright-core")):
        missing.append("tests/browser/node_modules (npm ci --prefix tests/browser)")
    if not os.path.isfile(os.path.join(DIST, "index.html")):
        missing.append("web/ui/dist (bash tools/build-ui.sh)")
    return missing


def require_browser():
    """Fails under CI, skips elsewhere, when a prerequisite is missing; makes ARTIFACTS."""
    missing = missing_prerequisites()
    if missing:
        msg = "webmail browser test prerequisites missing: " + "; ".join(missing) + \
              " (bash tools/test.sh installs them)"
        if os.environ.get("CI"):
            raise AssertionError(msg)
        raise unittest.SkipTest(msg)
    os.makedirs(ARTIFACTS, exist_ok=True)


def run_spec(name, env):
    full = dict(os.environ, REFMAIL_ARTIFACTS=ARTIFACTS, CHROMIUM=CHROMIUM, **env)
    r = subprocess.run(["node", os.path.join(BROWSER, name)], cwd=BROWSER, env=full, capture_output=True,
                       text=True, timeout=300)
    lines = [l for l in r.stdout.splitlines() if l.startswith("RESULT ")]
    if r.returncode != 0 or not lines:
        raise AssertionError(f"{name} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}")
    return json.loads(lines[-1][7:])


class Jmap:
    """A Basic-auth JMAP client for checking what recipients received."""

    def __init__(self, port, user, password):
        self.base = f"http://127.0.0.1:{port}"
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.account = "A" + user.encode().hex()

    def get(self, path):
        req = urllib.request.Request(self.base + path, headers={"Authorization": self.auth})
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.read()

    def call(self, *calls):
        body = json.dumps({"using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"],
                           "methodCalls": [list(c) for c in calls]}).encode()
        req = urllib.request.Request(self.base + "/jmap/api", data=body, method="POST",
                                     headers={"Authorization": self.auth, "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return {c[2]: c[1] for c in json.loads(r.read())["methodResponses"]}

    def find(self, subject):
        r = self.call(["Email/query", {"accountId": self.account, "filter": {"subject": subject}}, "q"],
                      ["Email/get", {"accountId": self.account, "#ids": {"resultOf": "q", "name": "Email/query",
                                                                        "path": "/ids"},
                                     "properties": ["id", "subject", "attachments", "from", "to", "messageId",
                                                    "inReplyTo", "threadId"]}, "g"])
        return r["g"]["list"]

    def bodies(self, subject):
        r = self.call(["Email/query", {"accountId": self.account, "filter": {"subject": subject}}, "q"],
                      ["Email/get", {"accountId": self.account, "#ids": {"resultOf": "q", "name": "Email/query",
                                                                        "path": "/ids"},
                                     "properties": ["textBody", "htmlBody", "bodyValues"],
                                     "fetchAllBodyValues": True}, "g"])
        e = r["g"]["list"][0]
        value = lambda parts: "".join(e["bodyValues"][p["partId"]]["value"] for p in parts)
        return value(e["textBody"]), value(e["htmlBody"])

    def download(self, blob_id):
        return self.get(f"/jmap/download/{self.account}/{blob_id}/f?accept=application/octet-stream")


class Webmail(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_browser()
        cls.tmp = tempfile.mkdtemp(prefix="refmail-webmail-")
        cls.d = Daemon(extra_toml=f'[webmail]\ndir = "{DIST}"\n')
        cls.users = {"alice@example.test": "alice-password-1", "bob@example.test": "bob-password-1",
                     "carol@example.test": "carol-password-1", "dave@example.test": "dave-password-1"}
        for u, p in cls.users.items():
            cls.d.add_user(u, p)
        cls.d.ctl("user", "add", "root@example.test", "--admin", "--password-stdin", stdin="root-password-1\n")
        rnd = random.Random(12)
        cls.big = rnd.randbytes(5 << 20)
        cls.big_path = os.path.join(cls.tmp, BIG_NAME)
        with open(cls.big_path, "wb") as f:
            f.write(cls.big)
        cls.new = rnd.randbytes(300 << 10)
        cls.new_path = os.path.join(cls.tmp, "notes-v2.bin")
        with open(cls.new_path, "wb") as f:
            f.write(cls.new)
        cls.feed()

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "d"):
            cls.d.cleanup()
        if hasattr(cls, "tmp"):
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def send(cls, msg):
        with smtplib.SMTP("127.0.0.1", cls.d.ports["smtp"], timeout=60) as s:
            s.send_message(msg)

    @classmethod
    def feed(cls):
        def base(subject, sender="bob@example.test"):
            m = EmailMessage()
            m["From"], m["To"], m["Subject"] = sender, "alice@example.test", subject
            m["Message-ID"] = make_msgid(domain="example.test")
            return m
        with smtplib.SMTP("127.0.0.1", cls.d.ports["smtp"], timeout=60) as s:
            for i in range(1, 61):  # dave's inbox: more than one page
                s.sendmail("bulk@example.org", ["dave@example.test"],
                           f"From: bulk@example.org\r\nTo: dave@example.test\r\nSubject: Bulk {i:02d}\r\n"
                           f"Date: Sat, 21 Nov 2026 10:{i - 1:02d}:00 +0000\r\n\r\nbody {i}\r\n")
        m = base(SEARCH_WORD.capitalize() + " trip")
        m.set_content(f"Flights to {SEARCH_WORD} are booked.\n")
        cls.send(m)
        m = base(ACTIONS_SUBJECT, "carol@example.test")
        m.set_content("File this in the archive, please.\n")
        cls.send(m)
        m = base(REPLY_SUBJECT)
        m.set_content("The plan is at https://plans.example.org/q3 — comments welcome.\n")
        cls.send(m)
        m = base(HTML_SUBJECT)
        m.set_content("HTML only")
        png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
        m.add_alternative('<h1 style="color:#1f5fbf">Announcement</h1><p>Our logo: <img alt="logo" src="cid:logo@x">'
                          f'</p><p>Tracking: <img alt="remote" src="http://localhost:{cls.d.ports["http"]}/?remote-pixel"></p>',
                          subtype="html")
        m.get_payload()[1].add_related(png, "image", "png", cid="<logo@x>")
        cls.send(m)
        m = base(XSS_SUBJECT, "mallory@outside.test")
        m.set_content("plain part")
        m.add_alternative(
            '<script>window.parent.__xss = "script"; parent.document.title = "pwned"</script>'
            '<img src="x" onerror="parent.__xss=\'onerror\'">'
            '<a id="jslink" href="javascript:parent.__xss=\'link\'">click me</a>'
            '<svg onload="parent.__xss=\'svg\'"></svg>'
            '<iframe src="javascript:parent.__xss=\'iframe\'"></iframe>'
            '<form action="http://remote.invalid/steal"><input name="pw"><button>Log in</button></form>'
            '<meta http-equiv="refresh" content="0;url=javascript:parent.__xss=\'meta\'">'
            '<div style="position:fixed;top:0;left:0;width:100vw;height:100vh;background:rgba(200,0,0,.3);'
            'z-index:2147483647">this box tries to cover the page</div><p>Hello!</p>', subtype="html")
        cls.send(m)
        m = base(LONG_SUBJECT)
        m.set_content("plain")
        rows = "".join(f"<tr><td>row {i}</td><td style='color:#{i % 4096:03x}'>{'x' * 60}</td></tr>\n"
                       for i in range(60000))
        m.add_alternative(f"<table>{rows}</table>", subtype="html")
        cls.send(m)
        m = base(BIG_SUBJECT)
        m.set_content("The dataset is attached.\n")
        m.add_attachment(cls.big, maintype="application", subtype="octet-stream", filename=BIG_NAME)
        # Below smtp.min_cut_bytes: kept inside the skeleton (a "P" part blobId).
        m.add_attachment(SMALL_TEXT, maintype="text", subtype="plain", filename=SMALL_NAME)
        cls.send(m)

    def env(self, user, **extra):
        e = {"REFMAIL_URL": f"http://127.0.0.1:{self.d.ports['http']}", "REFMAIL_USER": user,
             "REFMAIL_PASSWORD": self.users.get(user, "root-password-1"), "BIG_SUBJECT": BIG_SUBJECT,
             "BIG_NAME": BIG_NAME, "BIG_FILE": self.big_path, "REFMAIL_LOG": self.d.log_path}
        e.update({k: str(v) for k, v in extra.items()})
        return e

    def test_1_read(self):
        r = run_spec("webmail_read.mjs", self.env("alice@example.test", XSS_SUBJECT=XSS_SUBJECT,
                                                   HTML_SUBJECT=HTML_SUBJECT, LONG_SUBJECT=LONG_SUBJECT))
        self.assertEqual(r["signed_in_as"], "alice@example.test")
        self.assertEqual(r["admin_link"], 0)  # offered to admin accounts only
        self.assertEqual(r["inbox_unread"], 7)
        self.assertEqual(r["list_attachment_names"], [BIG_NAME, SMALL_NAME])
        self.assertEqual(r["downloads_after_open"], 0, "opening the message fetched attachment bytes")
        self.assertEqual(r["server_downloads_after_open"], 0, "refmaild served a download before the click")
        self.assertEqual(r["server_downloads_after_click"], 1)
        want = hashlib.sha256(self.big).hexdigest()
        self.assertEqual(r["reader_sha"], want)
        self.assertEqual(r["list_sha"], want)
        self.assertEqual(r["reader_name"], BIG_NAME)
        # "Show original" is the rebuilt raw message, as JMAP serves the email's blobId.
        alice = Jmap(self.d.ports["http"], "alice@example.test", self.users["alice@example.test"])
        raw = alice.download(alice.find(BIG_SUBJECT)[0]["id"])
        self.assertEqual(r["original_sha"], hashlib.sha256(raw).hexdigest())
        self.assertIn(b"Subject: " + BIG_SUBJECT.encode(), raw)
        self.assertTrue(any(BIG_NAME in a and "5.0 MB" in a for a in r["reader_attachments"]), r["reader_attachments"])
        self.assertLess(r["open_ms"], 5000)
        x = r["xss"]
        self.assertIsNone(x["fired"], x)
        self.assertEqual(x["title"], "refmail")
        self.assertNotIn("allow-scripts", x["sandbox"])
        self.assertEqual((x["dangerous"], x["handlers"], x["js_links"]), (0, 0, 0), x)
        self.assertIn("Hello!", x["text"])
        self.assertTrue(r["cid"]["src"].startswith("/jmap/download/"), r["cid"])
        self.assertEqual(r["cid"]["width"], 1)
        self.assertEqual(r["remote_requests_blocked"], 0)
        self.assertGreaterEqual(r["remote_requests_allowed"], 1)
        self.assertTrue(r["long"]["truncated_notice"])
        self.assertLess(r["long"]["open_ms"], 10000)
        self.assertLess(r["long"]["next_ms"], 5000)
        self.assertTrue(r["phone_list_hidden"])

    def test_2_actions(self):
        r = run_spec("webmail_actions.mjs", self.env("alice@example.test", ACTIONS_SUBJECT=ACTIONS_SUBJECT,
                                                      SEARCH_WORD=SEARCH_WORD, SMTP_PORT=self.d.ports["smtp"]))
        self.assertTrue(r["focused_row"])
        self.assertTrue(r["unread_after_mark"])
        self.assertEqual(r["in_inbox_after_move"], 0)
        self.assertEqual(r["in_trash_after_delete"], 0)
        self.assertEqual(r["search_subjects"], [SEARCH_WORD.capitalize() + " trip"])
        self.assertTrue(r["live_update"])
        self.assertIn("signed out", r["signed_out"])
        alice = Jmap(self.d.ports["http"], "alice@example.test", self.users["alice@example.test"])
        self.assertEqual(alice.find(ACTIONS_SUBJECT), [])

    def test_3_compose(self):
        before = self.d.stats()["physical_bytes"]
        r = run_spec("webmail_compose.mjs", self.env("alice@example.test", REPLY_SUBJECT=REPLY_SUBJECT,
                                                      NEW_FILE=self.new_path, FORWARD_TO="carol@example.test"))
        after = self.d.stats()["physical_bytes"]
        self.assertIn("bob@example.test", r["reply_to"])
        reused = {a["name"]: a["reused"] for a in r["reply_attachments"]}
        self.assertEqual(reused, {"notes-v2.bin": "false", BIG_NAME: "true"})
        # Two pre-checks (empty bodies); one upload carrying exactly the new file.
        bodies = sorted(u["body"] for u in r["reply_uploads"])
        self.assertEqual(bodies, [0, 0, len(self.new)], r["reply_uploads"])
        self.assertEqual(r["forward_uploads"], [])
        self.assertEqual(r["forward_downloads"], 0)
        self.assertEqual(r["forward_attachments"], [{"name": BIG_NAME, "state": "ready"},
                                                    {"name": SMALL_NAME, "state": "ready"}])
        self.assertIn("Not sent", r["send_error"])
        self.assertIn("Upload refused (507)", r["upload_error"])
        self.assertEqual(r["body_kept"], "Keep this text.")
        # The recipients have what was sent, byte for byte.
        bob = Jmap(self.d.ports["http"], "bob@example.test", self.users["bob@example.test"])
        got = bob.find("Re: " + REPLY_SUBJECT)
        self.assertEqual(len(got), 1)
        # In-Reply-To names the original message.
        alice = Jmap(self.d.ports["http"], "alice@example.test", self.users["alice@example.test"])
        orig = [e for e in alice.find(REPLY_SUBJECT) if e["subject"] == REPLY_SUBJECT][0]
        self.assertTrue(orig["messageId"])
        self.assertEqual(got[0]["inReplyTo"], orig["messageId"])
        # The reply in alice's Sent shares the original's thread (RFC 8621 3).
        sent = [e for e in alice.find("Re: " + REPLY_SUBJECT) if e["subject"] == "Re: " + REPLY_SUBJECT]
        self.assertEqual([e["threadId"] for e in sent], [orig["threadId"]])
        atts = {a["name"]: a for a in got[0]["attachments"]}
        self.assertEqual(set(atts), {"notes-v2.bin", BIG_NAME})
        self.assertEqual(hashlib.sha256(bob.download(atts["notes-v2.bin"]["blobId"])).digest(),
                         hashlib.sha256(self.new).digest())
        self.assertEqual(atts[BIG_NAME]["size"], len(self.big))
        carol = Jmap(self.d.ports["http"], "carol@example.test", self.users["carol@example.test"])
        fwd = carol.find("Fwd: " + BIG_SUBJECT)
        self.assertEqual(len(fwd), 1)
        self.assertEqual([(a["name"], a["size"]) for a in fwd[0]["attachments"]],
                         [(BIG_NAME, len(self.big)), (SMALL_NAME, len(SMALL_TEXT))])
        self.assertEqual(carol.download(fwd[0]["attachments"][1]["blobId"]), SMALL_TEXT)
        self.assertEqual(fwd[0]["attachments"][0]["blobId"], atts[BIG_NAME]["blobId"])  # one stored copy
        self.assertEqual(hashlib.sha256(carol.download(fwd[0]["attachments"][0]["blobId"])).digest(),
                         hashlib.sha256(self.big).digest())
        text, html = bob.bodies("Rich hello")
        self.assertIn("Important news", text)
        self.assertRegex(html, r"<(b|strong)>Important</(b|strong)>(&nbsp;| )news")
        # Only the new file's bytes (and small skeletons) were added.
        growth = after - before
        self.assertGreaterEqual(growth, len(self.new) * 9 // 10)
        self.assertLess(growth, len(self.new) + (256 << 10), (before, after))

    def test_4_paging(self):
        r = run_spec("webmail_paging.mjs", self.env("dave@example.test"))
        self.assertEqual(r["first_page"]["rows"], 50)
        self.assertEqual(r["first_page"]["label"], "1–50 of 60")
        self.assertTrue(r["first_page"]["top"].startswith("Bulk "))  # receivedAt has 1 s resolution
        self.assertEqual(r["second_page"], {"label": "51–60 of 60", "rows": 10})

    def test_6_dmarc_warning(self):
        # As refmaild writes them on top (tests/e2e/test_inbound_auth.py proves it does):
        # from loopback nothing is checked, so these fields arrive as the top ones.
        self.d.add_user("erin@example.test", "erin-password-1")
        self.users["erin@example.test"] = "erin-password-1"
        fail = ("Authentication-Results: mx.example.test;\r\n\tspf=fail smtp.mailfrom=billing@bank.test;\r\n"
                "\tdkim=none;\r\n\tdmarc=fail (p=none dis=none) header.from=bank.test\r\n"
                "From: Bank <billing@bank.test>\r\nTo: erin@example.test\r\nSubject: Your invoice\r\n\r\nPay here.\r\n")
        ok = ("Authentication-Results: mx.example.test;\r\n\tspf=pass smtp.mailfrom=news@shop.test;\r\n"
              "\tdkim=pass header.d=shop.test;\r\n\tdmarc=pass (p=reject dis=none) header.from=shop.test\r\n"
              "From: news@shop.test\r\nTo: erin@example.test\r\nSubject: Weekly news\r\n\r\nHello.\r\n")
        with smtplib.SMTP("127.0.0.1", self.d.ports["smtp"], timeout=60) as s:
            s.sendmail("billing@bank.test", ["erin@example.test"], fail)
            s.sendmail("news@shop.test", ["erin@example.test"], ok)
        r = run_spec("webmail_trust.mjs", self.env("erin@example.test", FAIL_SUBJECT="Your invoice",
                                                    PASS_SUBJECT="Weekly news"))
        self.assertIn("bank.test", r["fail_warning"])
        self.assertIn("DMARC check failed", r["fail_warning"])
        self.assertEqual(r["pass_warnings"], 0)

    def test_5_admin(self):
        # A Sieve error for the page's filtering table: dave's script files into a mailbox
        # that does not exist (the message stays in INBOX, the error is counted).
        dave = Jmap(self.d.ports["http"], "dave@example.test", self.users["dave@example.test"])
        req = urllib.request.Request(dave.base + f"/jmap/upload/{dave.account}/", data=b'require "fileinto";\r\n'
                                     b'fileinto "No such folder";\r\n', method="POST",
                                     headers={"Authorization": dave.auth, "Content-Type": "application/sieve"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            blob = json.loads(resp.read())["blobId"]
        made = dave.call(["SieveScript/set", {"accountId": dave.account, "create": {"s": {"name": "broken",
                                                                                         "blobId": blob}},
                                              "onSuccessActivateScript": "#s"}, "s"])["s"]
        self.assertIn("s", made.get("created") or {}, made)
        with smtplib.SMTP("127.0.0.1", self.d.ports["smtp"], timeout=60) as s:
            s.sendmail("news@shop.test", ["dave@example.test"],
                       "From: news@shop.test\r\nTo: dave@example.test\r\nSubject: Filed nowhere\r\n\r\nHi.\r\n")
        r = run_spec("webmail_admin.mjs", self.env("root@example.test"))
        with urllib.request.urlopen(f"http://127.0.0.1:{self.d.ports['http']}/metrics", timeout=60) as resp:
            metrics = resp.read().decode()

        def counter(series):
            for line in metrics.splitlines():
                if line.startswith(series + " "):
                    return int(float(line.split()[-1]))
            return 0
        self.assertGreaterEqual(r["filtering"]["sieve_errors"], 1, r["filtering"])
        self.assertEqual(r["filtering"]["sieve_errors"], counter("refmail_sieve_errors_total"))
        self.assertEqual(r["filtering"]["vacation_replies"], counter("refmail_sieve_vacation_replies_total"))
        self.assertEqual(r["filtering"]["spam:no action"],
                         counter('refmail_spam_actions_total{action="no action"}'))
        self.assertEqual(len([k for k in r["filtering"] if k.startswith("spam:")]), 7, r["filtering"])
        self.assertEqual(r["admin_link"], 1)
        s = self.d.stats()
        for k in ("logical_bytes", "physical_bytes", "messages", "blobs", "mailbox_rows"):
            self.assertEqual(r["stats"][k], s[k], k)
        self.assertAlmostEqual(r["stats"]["saving_ratio"], s["saving_ratio"], places=9)
        self.assertEqual(r["accounts"], {a["name"]: a["logical_bytes"] for a in s["accounts"]})
        self.assertEqual(r["domains"], {d["name"]: d["logical_bytes"] for d in s["domains"]})
        self.assertGreaterEqual(r["top_shared_rows"], 1)


if __name__ == "__main__":
    main()

"""End-to-end: JMAP over HTTP against the real refmaild — urllib as the JMAP client,
curl for downloads and uploads. A message received over SMTP reads back through
Email/get; its attachment downloads byte-identical (also by Range); another account
gets the same 404 as for a missing blob; re-uploading stored bytes adds no physical
bytes; the SHA-256 pre-check answers the holder only; a draft with an uploaded
attachment sent to a local user adds no blob bytes; destroying every copy returns the
physical bytes; /api/admin/stats matches `refmailctl stats --json`."""
import base64, hashlib, json, random, shutil, smtplib, subprocess, unittest, urllib.request
from harness import Daemon, JmapClient, main, with_attachment


def physical(d):
    return d.stats()["physical_bytes"]


@unittest.skipUnless(shutil.which("curl"), "curl is not installed")
class Jmap(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon()
        for u in ("alice", "bob", "carol"):
            cls.d.add_user(f"{u}@example.test", f"{u}-pw-1")
        cls.d.ctl("user", "add", "boss@example.test", "--admin", "--password-stdin", stdin="admin-pw-1\n")
        cls.payload = random.Random(61).randbytes(2 * 1024 * 1024 + 5)
        s = smtplib.SMTP("127.0.0.1", cls.d.ports["smtp"], timeout=30)
        s.sendmail("sender@outside.test", ["alice@example.test"],
                   with_attachment("jmap e2e", cls.payload, "alice@example.test"))
        s.quit()
        port = cls.d.ports["http"]
        cls.a = JmapClient(port, "alice@example.test", "alice-pw-1")
        cls.b = JmapClient(port, "bob@example.test", "bob-pw-1")
        cls.c = JmapClient(port, "carol@example.test", "carol-pw-1")
        em = cls.a.latest(["subject", "bodyValues", "textBody", "attachments", "size"])[0]
        cls.email = em
        cls.blob = em["attachments"][0]["blobId"]

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_1_email_get_reads_the_summary(self):
        self.assertEqual(self.email["subject"], "jmap e2e")
        self.assertIn("See attached", json.dumps(self.email["bodyValues"]))
        self.assertEqual(self.email["attachments"][0]["size"], len(self.payload))
        self.assertEqual(self.email["attachments"][0]["name"], "report.pdf")

    def test_2_download_full_and_range_with_curl(self):
        path = self.a.download_path(self.blob, "report.pdf", "application/pdf")
        data = self.a.curl(self.a.base + path)
        self.assertEqual(hashlib.sha256(data).hexdigest(), hashlib.sha256(self.payload).hexdigest())
        part = self.a.curl("-H", "Range: bytes=1048570-1048600", self.a.base + path)
        self.assertEqual(part, self.payload[1048570:1048601])
        head = self.a.curl("-D", "-", "-o", "/dev/null", self.a.base + path).decode()
        self.assertIn("ETag: \"%s\"" % self.blob, head)
        self.assertIn("X-Content-Type-Options: nosniff", head)
        self.assertIn("filename*=UTF-8''report.pdf", head)
        st, _, _ = self.a.request("GET", path, headers={"Range": f"bytes={len(self.payload)}-"})
        self.assertEqual(st, 416)

    def test_3_other_account_gets_the_missing_answer(self):
        st, body, _ = self.b.request("GET", self.b.download_path(self.blob))
        other = self.blob[:-4] + ("0000" if not self.blob.endswith("0000") else "1111")
        st2, body2, _ = self.b.request("GET", self.b.download_path(other))
        self.assertEqual((st, st2), (404, 404))
        self.assertEqual(body, body2)
        st3, _, _ = self.b.request("GET", self.b.download_path(self.email["id"]))
        self.assertEqual(st3, 404)

    def test_4_reupload_adds_no_physical_bytes_and_precheck(self):
        p0 = physical(self.d)
        out = json.loads(self.b.curl("-X", "POST", "-H", "Content-Type: application/pdf", "--data-binary", "@-",
                                     self.b.base + self.b.upload_path(), data=self.payload))
        self.assertEqual(out["blobId"], self.blob)
        self.assertLess(physical(self.d) - p0, 4096)
        digest = "sha-256=:" + base64.b64encode(hashlib.sha256(self.payload).digest()).decode() + ":"
        st_a, body_a, _ = self.a.request("POST", self.a.upload_path(), b"",
                                         {"Repr-Digest": digest, "Content-Type": "application/pdf"})
        st_c, body_c, _ = self.c.request("POST", self.c.upload_path(), b"",
                                         {"Repr-Digest": digest, "Content-Type": "application/pdf"})
        self.assertEqual(st_a, 201)
        self.assertIn(self.blob.encode(), body_a)
        self.assertEqual(st_c, 412)
        self.assertNotIn(self.blob.encode(), body_c)

    def test_5_draft_with_upload_sent_locally_adds_no_blob_bytes(self):
        attachment = random.Random(62).randbytes(300 * 1024)
        st, body, _ = self.a.upload(attachment, "application/zip")
        self.assertEqual(st, 201)
        blob = json.loads(body)["blobId"]
        boxes = self.a.mailboxes()
        blobs_before = self.d.stats()["blobs"]
        r = self.a.call(
            ["Email/set", {"accountId": self.a.account, "create": {"k1": {
                "mailboxIds": {boxes["drafts"]: True}, "keywords": {"$draft": True},
                "from": [{"email": "alice@example.test"}], "to": [{"email": "bob@example.test"}],
                "subject": "draft e2e", "textBody": [{"partId": "t", "type": "text/plain"}],
                "bodyValues": {"t": {"value": "Attached."}},
                "attachments": [{"blobId": blob, "type": "application/zip", "name": "a.zip"}]}}}, "c"],
            ["EmailSubmission/set", {"accountId": self.a.account,
                                     "create": {"s1": {"emailId": "#k1", "identityId": "I0"}},
                                     "onSuccessUpdateEmail": {"#s1": {f"mailboxIds/{boxes['drafts']}": None,
                                                                      f"mailboxIds/{boxes['sent']}": True,
                                                                      "keywords/$draft": None}}}, "s"])
        self.assertIsNotNone(r[1][1]["created"], r)
        self.assertEqual(self.d.stats()["blobs"], blobs_before)
        got = self.b.latest(["subject", "attachments"])[0]
        self.assertEqual(got["subject"], "draft e2e")
        self.assertEqual(got["attachments"][0]["blobId"], blob)
        data = self.b.curl(self.b.base + self.b.download_path(blob, "a.zip"))
        self.assertEqual(data, attachment)

    def test_6_stats_endpoint_matches_refmailctl(self):
        admin = JmapClient(self.d.ports["http"], "boss@example.test", "admin-pw-1")
        st, body, _ = admin.request("GET", "/api/admin/stats")
        self.assertEqual(st, 200, body)
        web = json.loads(body)
        ctl = self.d.stats()
        for k in ("logical_bytes", "physical_bytes", "blobs", "messages", "mailbox_rows"):
            self.assertEqual(web[k], ctl[k], k)
        self.assertTrue(web["top_shared"])
        st, _, _ = self.a.request("GET", "/api/admin/stats")
        self.assertEqual(st, 403)
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{self.d.ports['http']}/metrics", timeout=30).read().decode()
        self.assertIn("refmail_http_requests_total", metrics)
        self.assertIn("refmail_physical_bytes", metrics)

    def test_7_destroying_every_copy_returns_physical_bytes(self):
        payload = random.Random(63).randbytes(1024 * 1024)
        p0 = physical(self.d)
        s = smtplib.SMTP("127.0.0.1", self.d.ports["smtp"], timeout=30)
        s.sendmail("sender@outside.test", ["carol@example.test"], with_attachment("gone", payload, "carol@example.test"))
        s.quit()
        self.assertGreater(physical(self.d) - p0, len(payload))
        ids = self.c.call(["Email/query", {"accountId": self.c.account, "filter": {"subject": "gone"}}, "q"])[0][1]["ids"]
        self.assertEqual(len(ids), 1)
        r = self.c.call(["Email/set", {"accountId": self.c.account, "destroy": ids}, "d"])
        self.assertEqual(r[0][1]["destroyed"], ids)
        self.assertEqual(physical(self.d), p0)

    def test_8_tls_on_the_same_port_cookie_login_and_event_source(self):
        base = f"https://127.0.0.1:{self.d.ports['http']}"
        out = subprocess.run(["curl", "-s", "-k", "-D", "-", "-X", "POST", "-H", "Content-Type: application/json",
                              "-d", json.dumps({"username": "alice@example.test", "password": "alice-pw-1"}),
                              base + "/api/login"], capture_output=True, text=True, timeout=60).stdout
        cookie = [l for l in out.splitlines() if l.lower().startswith("set-cookie:")]
        self.assertTrue(cookie and "Secure" in cookie[0] and "HttpOnly" in cookie[0], out)
        token = cookie[0].split(":", 1)[1].strip().split(";")[0]
        code = subprocess.run(["curl", "-s", "-k", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Cookie: " + token,
                               base + "/.well-known/jmap"], capture_output=True, text=True, timeout=60).stdout
        self.assertEqual(code, "200")
        # A cookie POST without JSON type or CSRF token is refused.
        code = subprocess.run(["curl", "-s", "-k", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Cookie: " + token,
                               "-H", "Content-Type: text/plain", "--data", "x",
                               base + f"/jmap/upload/{self.a.account}/"], capture_output=True, text=True, timeout=60).stdout
        self.assertEqual(code, "403")
        ev = subprocess.run(["curl", "-s", "-k", "-m", "2", "-H", "Cookie: " + token,
                             base + "/jmap/eventsource?types=*&closeafter=no&ping=0"],
                            capture_output=True, text=True, timeout=60).stdout
        self.assertIn("event: state", ev)


if __name__ == "__main__":
    main()

"""End-to-end: JMAP Email/set create with bodyStructure (RFC 8621 4.6) against the real
refmaild. An uploaded blob in a multipart/mixed tree reads back through Email/get
(bodyValues, attachments, bodyStructure with the same blobId and size); the raw message
parses with Python's email package to the text and the exact bytes; EmailSubmission to a
second local user delivers the text and byte-identical attachment; a multipart/alternative
with a multipart/related cid image works; every invalid tree is refused with a SetError."""
import email, email.policy, json, random, unittest
from harness import Daemon, JmapClient, main


class BodyStructure(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon()
        for u in ("alice", "bob"):
            cls.d.add_user(f"{u}@example.test", f"{u}-pw-1")
        port = cls.d.ports["http"]
        cls.a = JmapClient(port, "alice@example.test", "alice-pw-1")
        cls.b = JmapClient(port, "bob@example.test", "bob-pw-1")
        cls.boxes = cls.a.mailboxes()
        cls.payload = random.Random(81).randbytes(3000)
        cls.blob = cls.upload(cls.payload, "application/octet-stream")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    @classmethod
    def upload(cls, data, type_):
        up = cls.a.session["uploadUrl"].replace("{accountId}", cls.a.account)
        st, body, _ = cls.a.request("POST", up, data, {"Content-Type": type_})
        assert st == 201, (st, body)
        return json.loads(body)["blobId"]

    def create(self, **fields):
        em = {"mailboxIds": {self.boxes["inbox"]: True}, "from": [{"email": "alice@example.test"}], "subject": "bs"}
        em.update(fields)
        r = self.a.call(["Email/set", {"accountId": self.a.account, "create": {"k": em}}, "c"])
        return r[0][1]

    def get(self, client, eid, props, body_props=None):
        args = {"accountId": client.account, "ids": [eid], "properties": props, "fetchAllBodyValues": True}
        if body_props:
            args["bodyProperties"] = body_props
        return client.call(["Email/get", args, "g"])[0][1]["list"][0]

    def raw(self, client, eid):
        data = client.curl(client.base + client.download_path(eid, "m.eml", "message/rfc822"))
        return email.message_from_bytes(data, policy=email.policy.default)

    def mixed_tree(self):
        return {"type": "multipart/mixed", "subParts": [
            {"partId": "t", "type": "text/plain"},
            {"blobId": self.blob, "type": "application/octet-stream", "name": "x.bin", "disposition": "attachment"}]}

    def test_1_mixed_text_and_blob(self):
        blobs_before = self.d.stats()["blobs"]
        res = self.create(bodyStructure=self.mixed_tree(), bodyValues={"t": {"value": "hello bodystructure"}})
        self.assertIsNotNone(res["created"], res)
        eid = res["created"]["k"]["id"]
        self.assertEqual(self.d.stats()["blobs"], blobs_before)  # a reference, not a copy
        em = self.get(self.a, eid, ["bodyValues", "attachments", "bodyStructure"])
        self.assertIn("hello bodystructure", [v["value"] for v in em["bodyValues"].values()])
        self.assertEqual(len(em["attachments"]), 1)
        self.assertEqual(em["attachments"][0]["blobId"], self.blob)
        self.assertEqual(em["attachments"][0]["size"], 3000)
        bs = em["bodyStructure"]
        self.assertEqual(bs["type"], "multipart/mixed")
        self.assertIsNone(bs["partId"])
        self.assertEqual([p["type"] for p in bs["subParts"]], ["text/plain", "application/octet-stream"])
        text, att = bs["subParts"]
        self.assertEqual(em["bodyValues"][text["partId"]]["value"], "hello bodystructure")
        self.assertEqual((att["blobId"], att["size"], att["name"], att["disposition"]),
                         (self.blob, 3000, "x.bin", "attachment"))
        msg = self.raw(self.a, eid)
        self.assertFalse(msg.defects)
        self.assertEqual(msg.get_content_type(), "multipart/mixed")
        parts = list(msg.iter_parts())
        self.assertEqual(parts[0].get_content().strip(), "hello bodystructure")
        self.assertEqual(parts[1].get_filename(), "x.bin")
        self.assertEqual(parts[1].get_payload(decode=True), self.payload)

    def test_2_submission_to_a_local_user(self):
        tree = self.mixed_tree()
        r = self.a.call(
            ["Email/set", {"accountId": self.a.account, "create": {"k": {
                "mailboxIds": {self.boxes["drafts"]: True}, "keywords": {"$draft": True},
                "from": [{"email": "alice@example.test"}], "to": [{"email": "bob@example.test"}],
                "subject": "bs to bob", "bodyStructure": tree,
                "bodyValues": {"t": {"value": "hello bob"}}}}}, "c"],
            ["EmailSubmission/set", {"accountId": self.a.account,
                                     "create": {"s": {"emailId": "#k", "identityId": "I0"}}}, "s"])
        self.assertIsNotNone(r[0][1]["created"], r)
        self.assertIsNotNone(r[1][1]["created"], r)
        got = self.b.latest(["subject", "bodyValues", "textBody", "attachments", "bodyStructure"])[0]
        self.assertEqual(got["subject"], "bs to bob")
        self.assertEqual(got["bodyValues"][got["textBody"][0]["partId"]]["value"], "hello bob")
        self.assertEqual(got["attachments"][0]["blobId"], self.blob)
        data = self.b.curl(self.b.base + self.b.download_path(self.blob, "x.bin"))
        self.assertEqual(data, self.payload)
        msg = self.raw(self.b, got["id"])
        self.assertEqual(list(msg.iter_parts())[1].get_payload(decode=True), self.payload)

    def test_3_alternative_with_related_cid_image(self):
        png = random.Random(82).randbytes(4000)
        img = self.upload(png, "image/png")
        html = '<p>logo: <img src="cid:logo@example.test"></p>'
        tree = {"type": "multipart/alternative", "subParts": [
            {"partId": "p", "type": "text/plain"},
            {"type": "multipart/related", "subParts": [
                {"partId": "h", "type": "text/html"},
                {"blobId": img, "type": "image/png", "cid": "logo@example.test", "disposition": "inline",
                 "name": "logo.png"}]}]}
        res = self.create(bodyStructure=tree, bodyValues={"p": {"value": "logo: [image]"}, "h": {"value": html}})
        self.assertIsNotNone(res["created"], res)
        eid = res["created"]["k"]["id"]
        em = self.get(self.a, eid, ["bodyValues", "textBody", "htmlBody", "attachments", "bodyStructure"])
        self.assertEqual(em["bodyValues"][em["textBody"][0]["partId"]]["value"], "logo: [image]")
        self.assertEqual(em["bodyValues"][em["htmlBody"][0]["partId"]]["value"], html)
        self.assertEqual([(a["cid"], a["blobId"], a["size"]) for a in em["attachments"]],
                         [("logo@example.test", img, 4000)])
        bs = em["bodyStructure"]
        self.assertEqual(bs["type"], "multipart/alternative")
        rel = bs["subParts"][1]
        self.assertEqual(rel["type"], "multipart/related")
        self.assertEqual([p["type"] for p in rel["subParts"]], ["text/html", "image/png"])
        self.assertEqual(rel["subParts"][1]["cid"], "logo@example.test")
        msg = self.raw(self.a, eid)
        self.assertFalse(msg.defects)
        related = [p for p in msg.walk() if p.get_content_type() == "multipart/related"]
        self.assertEqual(len(related), 1)
        self.assertEqual(related[0].get_param("type"), "text/html")
        image = [p for p in msg.walk() if p.get_content_type() == "image/png"][0]
        self.assertEqual(image["Content-ID"], "<logo@example.test>")
        self.assertEqual(image.get_payload(decode=True), png)
        self.assertEqual(msg.get_body(("html",)).get_content().strip(), html)

    def test_4_invalid_trees_are_refused(self):
        t = {"partId": "t", "type": "text/plain"}
        b = {"blobId": self.blob, "type": "application/octet-stream"}
        vals = {"t": {"value": "x"}}

        def mixed(*subs):
            return {"type": "multipart/mixed", "subParts": list(subs)}
        cases = [
            ("with textBody", dict(bodyStructure=mixed(t), bodyValues=vals, textBody=[{"partId": "t"}])),
            ("with htmlBody", dict(bodyStructure=mixed(t), bodyValues=vals, htmlBody=[{"partId": "t"}])),
            ("with attachments", dict(bodyStructure=mixed(t), bodyValues=vals, attachments=[b])),
            ("partId not in bodyValues", dict(bodyStructure=mixed(t), bodyValues={})),
            ("partId used twice", dict(bodyStructure=mixed(t, t), bodyValues=vals)),
            ("partId and blobId", dict(bodyStructure=mixed(dict(t, blobId=self.blob)), bodyValues=vals)),
            ("non-text from bodyValues", dict(bodyStructure=mixed({"partId": "t", "type": "image/png"}),
                                              bodyValues=vals)),
            ("multipart without subParts", dict(bodyStructure={"type": "multipart/mixed"}, bodyValues=vals)),
            ("leaf with subParts", dict(bodyStructure=mixed(dict(b, subParts=[t])), bodyValues=vals)),
            ("isTruncated", dict(bodyStructure=mixed(t), bodyValues={"t": {"value": "x", "isTruncated": True}})),
            ("isEncodingProblem", dict(bodyStructure=mixed(t),
                                       bodyValues={"t": {"value": "x", "isEncodingProblem": True}})),
            ("Content-Transfer-Encoding", dict(bodyStructure=mixed(dict(t, **{"header:Content-Transfer-Encoding":
                                                                                 " base64"})), bodyValues=vals)),
            ("header injection", dict(bodyStructure=mixed(dict(t, **{"header:X-A": " a\r\nBcc: x@y.test"})),
                                      bodyValues=vals)),
            ("too deep", dict(bodyStructure=self.nest(t, 12), bodyValues=vals)),
            ("too many parts", dict(bodyStructure=mixed(*([b] * 120)), bodyValues=vals)),
        ]
        before = self.a.call(["Email/query", {"accountId": self.a.account, "calculateTotal": True}, "q"])[0][1]["total"]
        for what, fields in cases:
            res = self.create(**fields)
            self.assertIsNone(res["created"], what)
            self.assertEqual(res["notCreated"]["k"]["type"], "invalidProperties", (what, res))
        res = self.create(bodyStructure=mixed(t, {"blobId": "Gmissing", "type": "application/pdf"}), bodyValues=vals)
        self.assertEqual(res["notCreated"]["k"]["type"], "blobNotFound", res)
        self.assertEqual(res["notCreated"]["k"]["notFound"], ["Gmissing"])
        after = self.a.call(["Email/query", {"accountId": self.a.account, "calculateTotal": True}, "q"])[0][1]["total"]
        self.assertEqual(after, before)

    @staticmethod
    def nest(leaf, depth):
        node = leaf
        for _ in range(depth):
            node = {"type": "multipart/mixed", "subParts": [node]}
        return node


if __name__ == "__main__":
    main()

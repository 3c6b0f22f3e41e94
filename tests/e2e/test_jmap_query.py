"""End-to-end: Email/query against the real refmaild with a mailbox of known content, every
filter and sort of RFC 8621 4.4 checked against an oracle written here (Python's own
filtering and sorting of what the test sent), with paging (position, anchor), collapsed
threads, and Email/queryChanges after changes (the old ids with `removed` taken out and
`added` put in must equal the new query's ids). Messages arrive over SMTP; keywords and
mailboxes change through Email/set."""
import email.utils, smtplib, unittest
from harness import Daemon, JmapClient, main, with_attachment

# (message id, from (name, email), to (name, email), cc, subject, Date, body words, reply to)
MESSAGES = [
    ("m0@x", ("Zed Quill", "zed@outside.test"), ("Alice", "alice@example.test"), None, "Budget plan",
     "Mon, 01 Jan 2024 10:00:00 +0000", "pineapple harbour", None),
    ("m1@x", ("", "amy@outside.test"), ("Alice", "alice@example.test"), ("Carl", "carl@outside.test"),
     "Re: Budget plan", "Wed, 03 Jan 2024 10:00:00 +0000", "walnut harbour", "m0@x"),
    ("m2@x", ("Bob Ray", "bob@outside.test"), ("Team", "team@example.test"), None, "Fwd: Lunch",
     "Tue, 02 Jan 2024 10:00:00 +0000", "pineapple orchard", None),
    ("m3@x", ("Mia", "mia@outside.test"), ("Alice", "alice@example.test"), None, "[news] Weekly digest",
     None, "glacier", None),
    ("m4@x", ("Zed Quill", "zed@outside.test"), ("Bob", "bob@example.test"), ("Dana", "dana@outside.test"),
     "Re: Re: Budget plan", "Fri, 05 Jan 2024 10:00:00 +0000", "harbour walnut", "m1@x"),
    ("m5@x", ("carol", "carol@outside.test"), ("Alice", "alice@example.test"), None, "apples",
     "Thu, 04 Jan 2024 10:00:00 +0000", "orchard", None),
]
ATTACHED = {"m2@x", "m5@x"}


def raw(m):
    mid, frm, to, cc, subject, date, words, reply = m
    fmt = lambda a: email.utils.formataddr(a) if a[0] else a[1]
    head = f"From: {fmt(frm)}\r\nTo: {fmt(to)}\r\n"
    if cc:
        head += f"Cc: {fmt(cc)}\r\n"
    if date:
        head += f"Date: {date}\r\n"
    head += f"Message-ID: <{mid}>\r\n"
    if reply:
        head += f"In-Reply-To: <{reply}>\r\nReferences: <{reply}>\r\n"
    if mid in ATTACHED:
        body = with_attachment(subject, b"%PDF " + words.encode() * 300, fmt(to), frm=fmt(frm),
                               name=f"{words.split()[0]}.pdf")
        # with_attachment writes its own From/To/Subject: put ours first instead.
        text = body.decode()
        rest = text.split("MIME-Version:", 1)[1]
        return (head + f"Subject: {subject}\r\nMIME-Version:" + rest.replace("See attached.", words)).encode()
    return (head + f"Subject: {subject}\r\n\r\n{words}\r\n").encode()


def base_subject(s):
    """RFC 5256 2.1, simplified the way refmail documents it."""
    s = s.lower().strip()
    changed = True
    while changed:
        changed = False
        s = s.strip()
        if s.endswith("(fwd)"):
            s, changed = s[:-5], True
            continue
        for p in ("re", "fwd", "fw"):
            if s.startswith(p):
                i = len(p)
                if i < len(s) and s[i] == "[" and "]" in s[i:]:
                    i = s.index("]", i) + 1
                if i < len(s) and s[i] == ":":
                    s, changed = s[i + 1:], True
                    break
        if not changed and s.startswith("[") and "]" in s and s.index("]") + 1 < len(s):
            s, changed = s[s.index("]") + 1:], True
    return s[:64]


class JmapQuery(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon()
        cls.d.add_user("alice@example.test", "alice-pw-1")
        cls.a = JmapClient(cls.d.ports["http"], "alice@example.test", "alice-pw-1")
        s = smtplib.SMTP("127.0.0.1", cls.d.ports["smtp"], timeout=30)
        for m in MESSAGES:
            s.sendmail("sender@outside.test", ["alice@example.test"], raw(m))
        s.quit()
        cls.boxes = cls.a.mailboxes()
        got = cls.a.call(["Email/query", {"accountId": cls.a.account}, "q"],
                         ["Email/get", {"accountId": cls.a.account,
                                        "properties": ["messageId", "size", "receivedAt", "threadId"],
                                        "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"}}, "g"])
        cls.by_mid = {e["messageId"][0]: e for e in got[1][1]["list"]}
        assert len(cls.by_mid) == len(MESSAGES), got
        cls.ids = {mid: cls.by_mid[mid]["id"] for mid, *_ in MESSAGES}
        # Keywords and mailboxes: m0 and m1 flagged, m3 seen, m5 moved to Archive.
        ids = cls.ids
        r = cls.a.call(["Email/set", {"accountId": cls.a.account, "update": {
            ids["m0@x"]: {"keywords/$flagged": True}, ids["m1@x"]: {"keywords/$flagged": True},
            ids["m3@x"]: {"keywords/$seen": True},
            ids["m5@x"]: {"mailboxIds": {cls.boxes["archive"]: True}}}}, "s"])
        assert len(r[0][1]["updated"]) == 4, r

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    # ---- the oracle: each email as the test knows it
    def model(self):
        out = []
        for m in MESSAGES:
            mid, frm, to, cc, subject, date, words, reply = m
            e = self.by_mid[mid]
            kw = set()
            if mid in ("m0@x", "m1@x"):
                kw.add("$flagged")
            if mid == "m3@x":
                kw.add("$seen")
            out.append(dict(id=e["id"], mid=mid, frm=frm, to=to, cc=cc, subject=subject,
                            sent=email.utils.parsedate_to_datetime(date).timestamp() if date else 0,
                            words=words, size=e["size"], received=e["receivedAt"], thread=e["threadId"],
                            kw=kw, box="archive" if mid == "m5@x" else "inbox", attached=mid in ATTACHED))
        return out

    def query(self, **args):
        r = self.a.call(["Email/query", {"accountId": self.a.account, **args}, "q"])[0]
        self.assertEqual(r[0], "Email/query", r)
        return r[1]

    def ids_of(self, emails):
        return [e["id"] for e in emails]

    def test_every_filter(self):
        model = self.model()
        inbox, archive = self.boxes["inbox"], self.boxes["archive"]
        contains = lambda hay, needle: needle.lower() in hay.lower()
        addr = lambda a: a is not None and (contains(a[0], "") and True)
        threads = {}
        for e in model:
            threads.setdefault(e["thread"], []).append(e)
        cases = [
            ({"inMailbox": inbox}, lambda e: e["box"] == "inbox"),
            ({"inMailbox": archive}, lambda e: e["box"] == "archive"),
            ({"inMailboxOtherThan": [inbox]}, lambda e: e["box"] != "inbox"),
            ({"hasKeyword": "$flagged"}, lambda e: "$flagged" in e["kw"]),
            ({"notKeyword": "$seen"}, lambda e: "$seen" not in e["kw"]),
            ({"hasAttachment": True}, lambda e: e["attached"]),
            ({"hasAttachment": False}, lambda e: not e["attached"]),
            ({"minSize": 2000}, lambda e: e["size"] >= 2000),
            ({"maxSize": 2000}, lambda e: e["size"] < 2000),
            ({"from": "Zed"}, lambda e: contains(e["frm"][0], "zed")),
            ({"to": "Alice"}, lambda e: contains(e["to"][0], "alice")),
            ({"cc": "Dana"}, lambda e: e["cc"] is not None and contains(e["cc"][0], "dana")),
            ({"bcc": "Alice"}, lambda e: False),
            ({"subject": "digest"}, lambda e: contains(e["subject"], "digest")),
            ({"body": "pineapple"}, lambda e: contains(e["words"], "pineapple")),
            ({"text": "walnut"}, lambda e: contains(e["words"], "walnut")),
            ({"text": "glacier"}, lambda e: contains(e["words"], "glacier")),
            ({"allInThreadHaveKeyword": "$flagged"},
             lambda e: all("$flagged" in x["kw"] for x in threads[e["thread"]])),
            ({"someInThreadHaveKeyword": "$flagged"},
             lambda e: any("$flagged" in x["kw"] for x in threads[e["thread"]])),
            ({"noneInThreadHaveKeyword": "$flagged"},
             lambda e: not any("$flagged" in x["kw"] for x in threads[e["thread"]])),
            ({"header": ["In-Reply-To"]}, lambda e: e["mid"] in ("m1@x", "m4@x")),
            ({"header": ["Cc", "carl"]}, lambda e: e["mid"] == "m1@x"),
            ({"operator": "AND", "conditions": [{"inMailbox": inbox}, {"hasKeyword": "$flagged"}]},
             lambda e: e["box"] == "inbox" and "$flagged" in e["kw"]),
            ({"operator": "OR", "conditions": [{"from": "Mia"}, {"hasAttachment": True}]},
             lambda e: contains(e["frm"][0], "mia") or e["attached"]),
            ({"operator": "NOT", "conditions": [{"inMailbox": inbox}, {"hasKeyword": "$seen"}]},
             lambda e: not (e["box"] == "inbox" or "$seen" in e["kw"])),
            ({"operator": "AND", "conditions": [{"text": "harbour"}, {"notKeyword": "$flagged"}]},
             lambda e: contains(e["words"], "harbour") and "$flagged" not in e["kw"]),
        ]
        # Newest first, ties by id descending (the server's documented order).
        order = lambda es: sorted(es, key=lambda e: (e["received"], e["id"]), reverse=True)
        for f, pred in cases:
            with self.subTest(filter=f):
                got = self.query(filter=f, sort=[{"property": "receivedAt", "isAscending": False}], calculateTotal=True)
                want = self.ids_of(order([e for e in model if pred(e)]))
                self.assertEqual(got["ids"], want)
                self.assertEqual(got["total"], len(want))
                self.assertTrue(got["canCalculateChanges"])
        # Bad filters: the RFC's errors.
        for f in ({"nope": 1}, {"operator": "XOR", "conditions": []}, {"header": []}):
            r = self.a.call(["Email/query", {"accountId": self.a.account, "filter": f}, "q"])[0]
            self.assertEqual(r[0], "error", (f, r))
            self.assertEqual(r[1]["type"], "unsupportedFilter", (f, r))

    def test_every_sort_with_paging(self):
        model = self.model()
        inbox = self.boxes["inbox"]
        text_key = {
            "from": lambda e: (e["frm"][0] or e["frm"][1]).lower(),
            "to": lambda e: (e["to"][0] or e["to"][1]).lower(),
            "subject": lambda e: base_subject(e["subject"]),
        }
        keys = {
            "receivedAt": lambda e: e["received"], "size": lambda e: e["size"], "sentAt": lambda e: e["sent"],
            **text_key,
            "hasKeyword": lambda e: "$flagged" in e["kw"],
        }
        for prop, key in keys.items():
            for asc in (True, False):
                comparator = {"property": prop, "isAscending": asc}
                if prop == "hasKeyword":
                    comparator["keyword"] = "$flagged"
                for in_inbox in (False, True):
                    with self.subTest(sort=prop, ascending=asc, inbox=in_inbox):
                        es = [e for e in model if not in_inbox or e["box"] == "inbox"]
                        want = self.ids_of(sorted(es, key=lambda e: (key(e), e["id"]), reverse=not asc))
                        args = {"sort": [comparator]}
                        if in_inbox:
                            args["filter"] = {"inMailbox": inbox}
                        self.assertEqual(self.query(**args)["ids"], want)
                        # Paging: a position, a negative position, an anchor with an offset.
                        self.assertEqual(self.query(**args, position=2, limit=2)["ids"], want[2:4])
                        self.assertEqual(self.query(**args, position=-2)["ids"], want[-2:])
                        page = self.query(**args, anchor=want[1], anchorOffset=1, limit=2)
                        self.assertEqual(page["ids"], want[2:4])
                        self.assertEqual(page["position"], 2)
        # Two comparators: flagged first, then oldest first.
        want = self.ids_of(sorted(model, key=lambda e: (not ("$flagged" in e["kw"]), e["received"], e["id"])))
        got = self.query(sort=[{"property": "hasKeyword", "keyword": "$flagged", "isAscending": False},
                               {"property": "receivedAt", "isAscending": True}])
        self.assertEqual(got["ids"], want)
        # Collapsed threads: the first email of each thread in the sorted order.
        flat = self.ids_of(sorted(model, key=lambda e: (e["received"], e["id"]), reverse=True))
        seen, want = set(), []
        for i in flat:
            t = next(e["thread"] for e in model if e["id"] == i)
            if t not in seen:
                seen.add(t)
                want.append(i)
        got = self.query(sort=[{"property": "receivedAt", "isAscending": False}], collapseThreads=True)
        self.assertEqual(got["ids"], want)
        r = self.a.call(["Email/query", {"accountId": self.a.account, "sort": [{"property": "weird"}]}, "q"])[0]
        self.assertEqual(r[1]["type"], "unsupportedSort", r)

    def test_query_changes_rebuild_the_results(self):
        inbox = self.boxes["inbox"]
        forms = [
            {"filter": {"inMailbox": inbox}, "sort": [{"property": "receivedAt", "isAscending": False}]},
            {"filter": {"inMailbox": inbox}, "sort": [{"property": "subject", "isAscending": True}],
             "collapseThreads": True},
            {"filter": {"notKeyword": "$seen"}, "sort": [{"property": "size", "isAscending": False}]},
        ]
        before = [self.query(**f) for f in forms]
        # Changes: a new message (a reply in the budget thread), m2 seen, m3 destroyed.
        s = smtplib.SMTP("127.0.0.1", self.d.ports["smtp"], timeout=30)
        s.sendmail("sender@outside.test", ["alice@example.test"],
                   raw(("m9@x", ("Zed Quill", "zed@outside.test"), ("Alice", "alice@example.test"), None,
                        "Re: Budget plan", "Sat, 06 Jan 2024 10:00:00 +0000", "harbour", "m4@x")))
        s.quit()
        r = self.a.call(["Email/set", {"accountId": self.a.account,
                                       "update": {self.ids["m2@x"]: {"keywords/$seen": True}},
                                       "destroy": [self.ids["m3@x"]]}, "s"])
        self.assertEqual(r[0][1]["destroyed"], [self.ids["m3@x"]], r)
        for f, old in zip(forms, before):
            with self.subTest(form=f):
                now = self.query(**f)
                r = self.a.call(["Email/queryChanges", {"accountId": self.a.account,
                                                        "sinceQueryState": old["queryState"], **f}, "c"])[0]
                self.assertEqual(r[0], "Email/queryChanges", r)
                removed = set(r[1]["removed"])
                ids = [i for i in old["ids"] if i not in removed]
                for a in sorted(r[1]["added"], key=lambda a: a["index"]):
                    ids.insert(a["index"], a["id"])
                self.assertEqual(ids, now["ids"])
        # A state older than the log, or not one of ours: cannotCalculateChanges.
        r = self.a.call(["Email/queryChanges", {"accountId": self.a.account, "sinceQueryState": "x1"}, "c"])[0]
        self.assertEqual(r[1]["type"], "cannotCalculateChanges", r)
        self.__class__.by_mid.pop("m3@x", None)


if __name__ == "__main__":
    main()

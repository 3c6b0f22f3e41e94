#!/usr/bin/env python3
"""tests/e2e/test_webmail_filters.py — the webmail's Filters view in a real browser (issue
20, "Done when"): tests/browser/webmail_filters.mjs sets a vacation reply and two rules in
the UI (one "subject contains X -> folder Y", one with quotes and a backslash -> \\Flagged)
after making and activating a script in the raw editor (the rule editor says it replaces
it); then mail comes over SMTP from a foreign sender, and the checks are: exactly one
vacation reply reaches the sender's MX (a test SMTP peer found through nsd, as in
test_sieve.py) even after more mail from the same sender; the matching messages were filed
into Y (and the quoted rule flagged one), seen over JMAP and in the webmail; the raw
editor showed the server's line:column error for a broken script on Check and on Save,
and the rules script stayed active and unchanged; the first script was deleted (two
clicks; the active one cannot be); a hand-written "webmail-rules" script is not parsed by
the rule editor. And every rule shape, with values that would break naive quoting, gives a
script the server validates and that reads back to the same rules. Prerequisites as
tests/e2e/test_webmail.py."""
import email
import email.policy
import json
import os
import smtplib
import subprocess
import time
import unittest

from harness import JmapClient, main
from test_relay import ForeignMx
from test_webmail import DIST, ROOT, require_browser, run_spec

SIEVE = "urn:ietf:params:jmap:sieve"
VACATION = "urn:ietf:params:jmap:vacationresponse"
USERS = {"bob@example.test": "bob-password-1", "carol@example.test": "carol-password-1"}

RULE_SUBJECT = "Zeta report"
RULE_FOLDER = "Projects-Zeta"
FLAG_SUBJECT = 'say "hi" \\ now'  # say "hi" \ now
VACATION_SUBJECT = "Away until the 14th"
VACATION_TEXT = "I am walking in the hills and read no mail until Monday the 14th."
# The browser runs in Berlin (TZ): the page turns local time into a UTCDate (CEST = UTC+2).
BROWSER_TZ, VACATION_UNTIL, VACATION_UNTIL_UTC = "Europe/Berlin", "2027-06-30T18:00", "2027-06-30T16:00:00Z"
MARKER = "# refmail webmail rules v1 (written by the webmail rule editor: edit them there)"


def call(c, *calls):
    """{call id: arguments}; `using` names what the methods need (refmaild refuses unknown
    capabilities)."""
    using = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"]
    using += sorted({SIEVE if x[0].startswith("SieveScript/") else VACATION
                     for x in calls if x[0].startswith(("SieveScript/", "VacationResponse/"))})
    body = json.dumps({"using": using, "methodCalls": [list(x) for x in calls]}).encode()
    st, data, _ = c.request("POST", "/jmap/api", body, {"Content-Type": "application/json"})
    assert st == 200, (st, data[:300])
    return {r[2]: r[1] for r in json.loads(data)["methodResponses"]}


def message(subject, frm="Fay <fay@origin.test>", to="bob@example.test", msg_id=None):
    mid = msg_id or subject.replace(" ", "-").replace('"', "").replace("\\", "")
    return (f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{mid}@origin.test>\r\n"
            f"\r\nHello.\r\n").encode()


# Values a rule may hold that a naive quoting would break: quotes, backslashes, what looks
# like Sieve, variables, comments, wildcards, non-ASCII and an astral character.
TRICKY = ['a"b', 'a\\b', '\\', '"', 'x\\"; discard; "', '${from}', '/* c */ #', '*?[]', 'caf\u00e9 \u2603',
          '\U0001F600 smile', "it's", "\u00a0nbsp", 'end\\']
RULES_JS = os.path.join(ROOT, "web", "ui", "src", "sieve_rules.js")


def rules_js(program):
    """Runs `program` (an ES module body with `m` = web/ui/src/sieve_rules.js) under node;
    its stdout as JSON."""
    src = f"const m = await import({json.dumps('file://' + RULES_JS)});\n{program}"
    r = subprocess.run(["node", "--input-type=module", "-e", src], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


class WebmailFilters(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_browser()
        cls.fx = ForeignMx(extra_toml=f'[webmail]\ndir = "{DIST}"\n')
        cls.peer, cls.d = cls.fx.peer, cls.fx.d
        for u, p in USERS.items():
            cls.d.add_user(u, p)

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "fx"):
            cls.fx.close()

    def env(self, phase, user="bob@example.test", **extra):
        e = {"REFMAIL_URL": f"http://127.0.0.1:{self.d.ports['http']}", "REFMAIL_USER": user,
             "REFMAIL_PASSWORD": USERS[user], "REFMAIL_LOG": self.d.log_path, "PHASE": phase,
             "RULE_SUBJECT": RULE_SUBJECT, "RULE_FOLDER": RULE_FOLDER, "FLAG_SUBJECT": FLAG_SUBJECT,
             "VACATION_SUBJECT": VACATION_SUBJECT, "VACATION_TEXT": VACATION_TEXT,
             "VACATION_UNTIL": VACATION_UNTIL, "TZ": BROWSER_TZ}
        e.update({k: str(v) for k, v in extra.items()})
        return e

    def scripts(self, c):
        g = call(c, ["SieveScript/get", {"accountId": c.account, "ids": None}, "g"])["g"]
        out = {}
        for s in g["list"]:
            text = c.curl("http://127.0.0.1:%d%s" % (self.d.ports["http"],
                                                      c.download_path(s["blobId"], "s.sieve", "application/sieve")))
            out[s["name"]] = (s["isActive"], text.decode())
        return out

    def box(self, c, name):
        """{subject: keywords} of the mailbox named `name` (role name for system ones)."""
        boxes = c.mailboxes()
        self.assertIn(name, boxes)
        r = c.call(["Email/query", {"accountId": c.account, "filter": {"inMailbox": boxes[name]}}, "q"],
                   ["Email/get", {"accountId": c.account, "properties": ["subject", "keywords"],
                                  "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"}}, "g"])
        return {e["subject"]: e["keywords"] for e in r[1][1]["list"]}

    def test_generated_scripts_validate_and_read_back(self):
        """Every rule the editor can make, with every tricky value, gives a script the
        server accepts, which reads back to the same rules; line breaks are refused."""
        rules = []
        for i, v in enumerate(TRICKY):
            for field in ("from", "to", "subject"):
                for match in ("contains", "is"):
                    rules.append({"field": field, "match": match, "value": v, "action": "fileinto",
                                  "target": "Box " + v, "stop": i % 2 == 0})
            rules.append({"field": "subject", "match": "contains", "value": v, "action": "redirect",
                          "target": "fwd@remote.test", "copy": i % 2 == 1, "stop": False})
        rules.append({"field": "subject", "match": "is", "value": "x", "action": "flag", "target": "$work", "stop": False})
        rules.append({"field": "subject", "match": "is", "value": "y", "action": "discard", "stop": True})
        got = rules_js(f"""const rules = {json.dumps(rules)};
            const out = {{ scripts: [], back: [], refused: [] }};
            for (let i = 0; i < rules.length; i += 13) out.scripts.push(m.generateScript(rules.slice(i, i + 13)));
            out.all = m.generateScript(rules);
            out.back = m.readRules(out.all).rules;
            for (const v of ['a\\nb', 'a\\rb', 'a\\u0000b', 'a\\u2028b']) {{
              try {{ m.generateScript([{{ ...rules[0], value: v }}]); }} catch (e) {{ out.refused.push(e.message); }}
              try {{ m.generateScript([{{ ...rules[0], target: v }}]); }} catch (e) {{ out.refused.push(e.message); }}
            }}
            out.edited = m.readRules(out.all.replace('fwd@remote.test', 'evil@remote.test'));
            out.none = m.readRules('keep;\\r\\n');
            console.log(JSON.stringify(out));""")
        self.assertEqual(len(got["refused"]), 8, got["refused"])
        self.assertEqual(got["edited"], {"foreign": "it was changed outside the rule editor"})
        self.assertEqual(got["none"], {"foreign": "it was not written by the rule editor"})
        norm = [{**r, "copy": r.get("copy", False), "target": r.get("target", "")} for r in rules]
        self.assertEqual([{k: b[k] for k in norm[0]} for b in got["back"]], norm)
        c = JmapClient(self.d.ports["http"], "carol@example.test", USERS["carol@example.test"])
        for script in got["scripts"] + [got["all"]]:
            st, body, _ = c.upload(script.encode(), "application/sieve")
            self.assertEqual(st, 201, body)
            v = call(c, ["SieveScript/validate", {"accountId": c.account, "blobId": json.loads(body)["blobId"]}, "v"])
            self.assertIsNone(v["v"]["error"], script)
        # And the validator does refuse a broken one (the check above can fail).
        st, body, _ = c.upload(got["all"].replace('fileinto :create', 'fileinto :creat', 1).encode(), "application/sieve")
        v = call(c, ["SieveScript/validate", {"accountId": c.account, "blobId": json.loads(body)["blobId"]}, "v"])
        self.assertEqual(v["v"]["error"]["type"], "invalidSieve")

    def test_vacation_and_rule_set_in_the_browser_then_mail(self):
        bob = JmapClient(self.d.ports["http"], "bob@example.test", USERS["bob@example.test"])
        self.assertIn(VACATION, bob.session["capabilities"])

        r = run_spec("webmail_filters.mjs", self.env("setup"))

        # The raw editor made and activated a script; the rule editor said it replaces it.
        self.assertEqual(r["check_valid"], "No errors found.")
        self.assertEqual(r["replaces"], "old-filter")
        self.assertEqual(r["replaces_after_save"], 0)
        self.assertEqual(r["incomplete_problem"], "the value to look for is empty")
        self.assertTrue(r["vacation_available"])
        self.assertEqual(r["vacation_empty_error"], "Write the text of the reply first.")
        self.assertEqual(r["vacation_outcome"], "ok", r["vacation_note"])
        self.assertEqual(r["rules_outcome"], "ok", r["rules_note"])
        want_rules = [
            {"field": "subject", "match": "contains", "value": FLAG_SUBJECT, "action": "flag",
             "target": "\\Flagged", "stop": False},
            {"field": "subject", "match": "contains", "value": RULE_SUBJECT, "action": "fileinto",
             "target": RULE_FOLDER, "stop": True},
        ]
        self.assertEqual(r["rules_before_save"], want_rules)
        self.assertEqual(r["rules_after_reload"], want_rules)  # read back from the stored script
        self.assertEqual(r["vacation_after_reload"], {"enabled": True, "subject": VACATION_SUBJECT,
                                                      "text": VACATION_TEXT, "until": VACATION_UNTIL, "from": ""})
        self.assertEqual(sorted(r["scripts"]), [["old-filter", False], ["webmail-rules", True]])

        # The raw editor: Check and Save both showed the server's line:column error ...
        line = str(r["broken_line"])
        self.assertRegex(r["check_error"], r"error at %s:\d+: " % line)
        self.assertEqual(r["check_line"], line)
        self.assertIn("unchanged", r["save_error"])
        self.assertRegex(r["save_error"], r"error at %s:\d+: " % line)
        self.assertEqual(r["save_line"], line)
        # The old script was deleted with two clicks; the active one could not be.
        self.assertTrue(r["active_delete_disabled"])
        self.assertEqual((r["delete_asks"], r["after_one_click"]), ("Really delete?", 1))
        self.assertEqual(r["delete_note"], "Deleted “old-filter”.")
        self.assertEqual(r["after_delete"], ["webmail-rules"])
        # ... and the rules script stayed active and unchanged (what the rule editor wrote).
        scripts = self.scripts(bob)
        self.assertEqual(set(scripts), {"webmail-rules"})
        active, text = scripts["webmail-rules"]
        self.assertTrue(active)
        self.assertNotIn("fileint ", text)
        self.assertTrue(text.startswith(MARKER + "\r\n# {"), text[:200])
        self.assertIn('if header :contains "subject" "say \\"hi\\" \\\\ now" {\r\n  addflag "\\\\Flagged";\r\n}', text)
        self.assertIn('if header :contains "subject" "Zeta report" {\r\n  fileinto :create "Projects-Zeta";\r\n'
                      '  stop;\r\n}', text)
        self.assertLess(text.index("addflag"), text.index("fileinto :create"))  # the moved rule runs first

        v = call(bob, ["VacationResponse/get", {"accountId": bob.account, "ids": ["singleton"]}, "v"])["v"]
        self.assertEqual(len(v["list"]), 1)
        vr = v["list"][0]
        self.assertEqual((vr["id"], vr["isEnabled"], vr["subject"], vr["textBody"], vr["fromDate"], vr["toDate"]),
                         ("singleton", True, VACATION_SUBJECT, VACATION_TEXT, None, VACATION_UNTIL_UTC))

        # Mail from a foreign sender: one reply, whatever else the sender sends this week.
        before = len(self.peer.messages)
        with smtplib.SMTP("127.0.0.1", self.d.ports["smtp"], timeout=60) as s:
            s.ehlo("mail.origin.test")
            s.sendmail("fay@origin.test", ["bob@example.test"], message("Lunch on Friday?"))
        msgs = self.peer.wait(before + 1)
        self.assertEqual(len(msgs), before + 1, self.d.tail())
        mail_from, rcpts, data, _, _ = msgs[before]
        self.assertEqual((mail_from, rcpts), ("", ["fay@origin.test"]))
        reply = email.message_from_bytes(data, policy=email.policy.default)
        self.assertEqual(reply["Subject"], VACATION_SUBJECT)
        self.assertEqual(reply["Auto-Submitted"], "auto-replied")
        self.assertEqual(reply["In-Reply-To"], "<Lunch-on-Friday?@origin.test>")
        self.assertEqual(reply.get_body(("plain",)).get_content().strip(), VACATION_TEXT)
        with smtplib.SMTP("127.0.0.1", self.d.ports["smtp"], timeout=60) as s:
            s.ehlo("mail.origin.test")
            s.sendmail("fay@origin.test", ["bob@example.test"], message(RULE_SUBJECT + " for Q4"))
            s.sendmail("fay@origin.test", ["bob@example.test"], message(f"{RULE_SUBJECT}: {FLAG_SUBJECT}"))
            s.sendmail("fay@origin.test", ["bob@example.test"], message("Lunch, again"))
        time.sleep(3)  # the relay retries every second: a queued second reply would be here
        self.assertEqual(len(self.peer.messages), before + 1, self.peer.messages[before + 1:])

        # The rule filed (and the quoted rule flagged) over JMAP ...
        filed = self.box(bob, RULE_FOLDER)
        self.assertEqual(set(filed), {RULE_SUBJECT + " for Q4", f"{RULE_SUBJECT}: {FLAG_SUBJECT}"})
        self.assertTrue(filed[f"{RULE_SUBJECT}: {FLAG_SUBJECT}"].get("$flagged"), filed)
        self.assertFalse(filed[RULE_SUBJECT + " for Q4"].get("$flagged"), filed)
        inbox = self.box(bob, "inbox")
        self.assertIn("Lunch on Friday?", inbox)
        self.assertIn("Lunch, again", inbox)
        self.assertFalse(set(filed) & set(inbox))

        # ... and in the webmail; carol's hand-written "webmail-rules" is not parsed.
        carol = JmapClient(self.d.ports["http"], "carol@example.test", USERS["carol@example.test"])
        st, body, _ = carol.upload((MARKER + '\r\n# {"v":1,"rules":[]}\r\nkeep;\r\n').encode(), "application/sieve")
        self.assertEqual(st, 201, body)
        s = call(carol, ["SieveScript/set", {"accountId": carol.account, "create": {
            "w": {"name": "webmail-rules", "blobId": json.loads(body)["blobId"]}}}, "s"])["s"]
        self.assertIsNotNone(s["created"], s)
        r = run_spec("webmail_filters.mjs", self.env("verify", FOREIGN_USER="carol@example.test",
                                                     FOREIGN_PASSWORD=USERS["carol@example.test"]))
        got = {f["text"]: f["flagged"] for f in r["folder_subjects"]}
        self.assertEqual(got, {RULE_SUBJECT + " for Q4": False, f"{RULE_SUBJECT}: {FLAG_SUBJECT}": True})
        self.assertEqual(r["foreign_reason"], "it was changed outside the rule editor")
        self.assertIn("cannot be edited here", r["foreign_text"])
        self.assertEqual(r["foreign_rules_shown"], 0)
        self.assertEqual(r["start_over"], {"rules": 0, "save": 1, "foreign": 0})
        # Nothing was saved: carol's script is still the hand-written one, not active.
        self.assertEqual(self.scripts(carol), {"webmail-rules": (False, MARKER + '\r\n# {"v":1,"rules":[]}\r\nkeep;\r\n')})


if __name__ == "__main__":
    main()

"""End-to-end crash safety of the IMAP mailbox state: refmaild is killed with SIGKILL while
clients APPEND in bursts and change flags; after a restart every acknowledged APPEND is
there with the UID APPENDUID named, no UID is ever handed out twice, MODSEQs never go
back, UIDVALIDITY is unchanged and the counts (STATUS, SELECT) equal the messages
present. Three rounds. Everything on 127.0.0.1; refmaild started and killed by PID."""
import imaplib, random, re, threading, time, unittest

from harness import Daemon

USER, PW = "alice@example.test", "alice-pw-1234"


def msg(i):
    return (f"From: c@outside.test\r\nTo: {USER}\r\nSubject: crash {i}\r\nMessage-ID: <crash{i}@x>\r\n\r\n"
            f"body {i}\r\n").encode()


class ImapCrashTest(unittest.TestCase):
    def test_kill9_during_appends_and_flag_changes(self):
        d = Daemon(extra_toml="[smtp]\nplain_auth_on_loopback = true\n")
        try:
            d.add_user(USER, PW)
            acked = {}        # uid -> message number, from APPENDUID
            max_modseq = 0    # the highest MODSEQ any answer showed
            uidvalidity = None
            counter = [0]
            lock = threading.Lock()
            rng = random.Random(7)

            def appender(stop):
                try:
                    m = imaplib.IMAP4("127.0.0.1", d.ports["imap"], timeout=30)
                    m.login(USER, PW)
                    while not stop.is_set():
                        with lock:
                            counter[0] += 1
                            i = counter[0]
                        typ, data = m.append("INBOX", None, None, msg(i))
                        if typ != "OK":
                            continue
                        hit = re.search(rb"APPENDUID (\d+) (\d+)", data[0] or b"")
                        if hit:
                            with lock:
                                acked[int(hit.group(2))] = i
                except (OSError, imaplib.IMAP4.abort, imaplib.IMAP4.error):
                    return  # the kill

            def flagger(stop):
                nonlocal max_modseq
                try:
                    m = imaplib.IMAP4("127.0.0.1", d.ports["imap"], timeout=30)
                    m.login(USER, PW)
                    m.enable("CONDSTORE")
                    m.select("INBOX")
                    while not stop.is_set():
                        m.noop()
                        flag = rng.choice([r"\Seen", r"\Flagged", "$label1"])
                        op = rng.choice(["+FLAGS", "-FLAGS"])
                        typ, data = m.store("1:*", op, f"({flag})")
                        for line in data or []:
                            for v in re.findall(rb"MODSEQ \((\d+)\)", line if isinstance(line, bytes) else b""):
                                with lock:
                                    max_modseq = max(max_modseq, int(v))
                except (OSError, imaplib.IMAP4.abort, imaplib.IMAP4.error):
                    return

            for round_ in range(3):
                stop = threading.Event()
                threads = [threading.Thread(target=appender, args=(stop,)) for _ in range(3)]
                threads.append(threading.Thread(target=flagger, args=(stop,)))
                for t in threads:
                    t.start()
                time.sleep(1.5 + rng.random())
                d.kill9()
                stop.set()
                for t in threads:
                    t.join(30)
                d.start()
                m = imaplib.IMAP4("127.0.0.1", d.ports["imap"], timeout=30)
                m.login(USER, PW)
                m.enable("CONDSTORE")
                typ, data = m.select("INBOX")
                self.assertEqual(typ, "OK")
                exists = int(data[0])
                v = int(re.search(rb"\d+", m.response("UIDVALIDITY")[1][0]).group(0))
                if uidvalidity is None:
                    uidvalidity = v
                self.assertEqual(v, uidvalidity, "UIDVALIDITY changed across a crash")
                typ, data = m.uid("FETCH", "1:*", "(UID MODSEQ BODY.PEEK[])")
                self.assertEqual(typ, "OK")
                present = {}
                highest_row = 0
                for item in data:
                    if not isinstance(item, tuple):
                        continue
                    uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
                    highest_row = max(highest_row, int(re.search(rb"MODSEQ \((\d+)\)", item[0]).group(1)))
                    present[uid] = int(re.search(rb"crash (\d+)", item[1]).group(1))
                self.assertEqual(len(present), exists)
                # Every acknowledged APPEND is there, under the UID it was given.
                for uid, i in acked.items():
                    self.assertEqual(present.get(uid), i, f"acknowledged UID {uid} lost or changed")
                # Counts are exact.
                typ, data = m.status("INBOX", "(MESSAGES UIDNEXT HIGHESTMODSEQ)")
                st = dict(re.findall(rb"(MESSAGES|UIDNEXT|HIGHESTMODSEQ) (\d+)", data[0]))
                self.assertEqual(int(st[b"MESSAGES"]), exists)
                self.assertGreater(int(st[b"UIDNEXT"]), max(present) if present else 0)
                # MODSEQs never go back: the mailbox's highest is at least any we were shown.
                self.assertGreaterEqual(int(st[b"HIGHESTMODSEQ"]), max(max_modseq, highest_row))
                # A new APPEND never reuses a UID handed out before the crash.
                typ, data = m.append("INBOX", None, None, msg(10_000 + round_))
                self.assertEqual(typ, "OK")
                new_uid = int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))
                self.assertGreater(new_uid, max(list(present) + list(acked) + [0]))
                acked[new_uid] = 10_000 + round_
                m.logout()
            self.assertGreater(len(acked), 10, "the bursts should have stored something")
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()

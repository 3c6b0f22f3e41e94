"""End-to-end: password guessing against the real refmaild (hardening item 7).
A guesser reconnecting to submission for every AUTH, and one sending HTTP Basic
guesses, are slowed to the throttle's schedule (3 free failures per address and
account, then 1, 2, 4, 8, 8... s); a flood of guesses from many loopback addresses
does not slow a delivery on the MX port (argon2 runs on its own bounded pool; a full
queue answers 454); and after 15 wrong passwords the real user's password still works
from the same address. Source addresses are distinct 127.0.0.x so the tests do not
share throttle keys."""
import base64, http.client, re, smtplib, threading, time, unittest, urllib.request
from harness import Daemon, main

SCHEDULE = [0, 0, 0, 1, 2, 4, 8, 8]  # seconds waited before each guess (default options)


def smtp_guess(d, source, user, password):
    """One AUTH PLAIN on a fresh submission connection; the reply code."""
    s = smtplib.SMTP("127.0.0.1", d.ports["submission"], timeout=30, source_address=(source, 0))
    try:
        s.ehlo("guesser.example.net")
        s.user, s.password = user, password
        try:
            s.auth("PLAIN", s.auth_plain)  # one attempt (login() would retry with LOGIN)
            return 235
        except smtplib.SMTPAuthenticationError as e:
            return e.smtp_code
    finally:
        try:
            s.quit()
        except smtplib.SMTPException:
            s.close()


def basic(d, user, password, source="127.0.0.1", timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", d.ports["http"], timeout=timeout, source_address=(source, 0))
    try:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        c.request("GET", "/.well-known/jmap", headers={"Authorization": "Basic " + token})
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def metric(text, series):
    m = re.search("^" + re.escape(series) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


class AuthThrottle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(extra_toml="[smtp]\nplain_auth_on_loopback = true\n")
        cls.d.add_user("carol@example.test", "carol-right-pw")
        cls.d.add_user("dave@example.test", "dave-pw")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.d.ports['http']}/metrics", timeout=30) as r:
            return r.read().decode()

    def assert_schedule(self, times, what):
        """times[k] = when guess k was answered; the gaps follow SCHEDULE."""
        gaps = [b - a for a, b in zip(times, times[1:])]
        print(f"\n{what}: {len(times)} guesses in {times[-1] - times[0]:.1f} s, gaps "
              + " ".join(f"{g:.2f}" for g in gaps))
        for k, g in enumerate(gaps, start=1):
            self.assertGreaterEqual(g, 0.9 * SCHEDULE[k] if k < len(SCHEDULE) else 0.9 * SCHEDULE[-1],
                                    f"{what}: guess {k + 1} came {g:.2f} s after the previous one")
        # Once at the cap, at most one guess per ~8 s (before: 6-9 per second).
        tail = times[-3:]
        rate = (len(tail) - 1) / (tail[-1] - tail[0])
        self.assertLess(rate, 1 / 7, f"{what}: {rate:.2f} guesses/s at the cap")
        return gaps

    def test_smtp_reconnecting_guesser_follows_the_schedule(self):
        start = time.monotonic()
        times, codes = [], []
        for _ in SCHEDULE:
            codes.append(smtp_guess(self.d, "127.0.0.2", "dave@example.test", "guess"))
            times.append(time.monotonic() - start)
        self.assertEqual(set(codes), {535}, codes)
        self.assert_schedule(times, "smtp")
        # The right password from that same address: delayed at most the cap, accepted.
        t0 = time.monotonic()
        self.assertEqual(smtp_guess(self.d, "127.0.0.2", "dave@example.test", "dave-pw"), 235)
        self.assertLess(time.monotonic() - t0, 10)
        m = self.metrics()
        self.assertGreaterEqual(metric(m, 'refmail_auth_failures_total{protocol="smtp"}'), len(SCHEDULE))
        self.assertGreaterEqual(metric(m, 'refmail_auth_throttled_total{protocol="smtp"}'), len(SCHEDULE) - 3)

    def test_http_basic_guesses_then_the_right_password_from_the_same_address(self):
        start = time.monotonic()
        times = []
        for _ in range(15):
            self.assertEqual(basic(self.d, "carol@example.test", "wrong-guess"), 401)
            times.append(time.monotonic() - start)
        self.assert_schedule(times, "http")
        # The real user, from the same 127.0.0.1: retried 1 s apart, 30 s client timeout.
        ok_after = None
        for attempt in range(10):
            t0 = time.monotonic()
            status = basic(self.d, "carol@example.test", "carol-right-pw")
            if status == 200:
                ok_after = (attempt, time.monotonic() - t0)
                break
            time.sleep(1)
        print(f"\nhttp: right password accepted at attempt {ok_after}")
        self.assertIsNotNone(ok_after, "the right password was refused 10 times")
        # Someone else's failures never lock carol out elsewhere: another address, no wait.
        t0 = time.monotonic()
        self.assertEqual(basic(self.d, "carol@example.test", "carol-right-pw", source="127.0.0.3"), 200)
        self.assertLess(time.monotonic() - t0, 2)
        m = self.metrics()
        self.assertGreaterEqual(metric(m, 'refmail_auth_failures_total{protocol="http"}'), 15)
        self.assertGreater(metric(m, 'refmail_auth_throttled_total{protocol="http"}'), 0)
        with open(self.d.log_path, "rb") as f:
            log = f.read().decode(errors="replace")
        self.assertIn("auth.failure protocol=http peer=127.0.0.1 user=carol@example.test", log)
        self.assertNotIn("wrong-guess", log)  # never a password in the log

    def test_guess_flood_does_not_slow_mx_delivery(self):
        stop = threading.Event()
        codes = []

        def flood(i):
            # A spray: every guess from a new address, so the throttle never slows it and
            # only the bounded argon2 pool stands between it and the deliveries.
            n = 0
            while not stop.is_set():
                source = f"127.{10 + i}.{n // 250}.{n % 250 + 1}"
                n += 1
                try:
                    codes.append(smtp_guess(self.d, source, "carol@example.test", "x"))
                except (OSError, smtplib.SMTPException):
                    pass

        threads = [threading.Thread(target=flood, args=(i,)) for i in range(24)]
        for t in threads:
            t.start()
        try:
            time.sleep(2)  # the flood is running
            durations = []
            for i in range(5):
                t0 = time.monotonic()
                s = smtplib.SMTP("127.0.0.1", self.d.ports["smtp"], timeout=30)
                s.sendmail("someone@outside.test", ["carol@example.test"], f"Subject: mx {i}\r\n\r\nhello\r\n".encode())
                s.quit()
                durations.append(time.monotonic() - t0)
                time.sleep(0.3)
        finally:
            stop.set()
            for t in threads:
                t.join()
        print(f"\nflood: {len(codes)} guesses ({codes.count(454)} answered 454), deliveries "
              + " ".join(f"{x:.3f}" for x in durations))
        self.assertGreater(len(codes), 24)
        self.assertLess(sorted(durations)[len(durations) // 2], 1.0, durations)
        self.assertLess(max(durations), 2.0, durations)
        m = self.metrics()
        self.assertGreater(codes.count(454), 0)  # the bounded queue answered some
        self.assertGreaterEqual(metric(m, 'refmail_auth_queue_rejections_total{protocol="smtp"}'), codes.count(454))


class DrainWhileThrottled(unittest.TestCase):
    def test_sigterm_ends_a_throttle_wait(self):
        d = Daemon(extra_toml="[smtp]\nplain_auth_on_loopback = true\n")
        try:
            d.add_user("erin@example.test", "erin-pw")
            for _ in range(7):  # 3 free, then 1 + 2 + 4 s: the next one waits 8 s
                self.assertEqual(smtp_guess(d, "127.0.0.6", "erin@example.test", "x"), 535)
            codes = []
            t = threading.Thread(target=lambda: codes.append(smtp_guess(d, "127.0.0.6", "erin@example.test", "x")))
            t.start()
            time.sleep(1)  # waiting for its turn now
            t0 = time.monotonic()
            self.assertEqual(d.stop(), 0)
            stopped = time.monotonic() - t0
            t.join()
            # The wait is cut short (454, then 421 as the session drains); no forced stop.
            self.assertLess(stopped, 5, "the throttle wait held the drain")
            self.assertEqual(codes, [454])
        finally:
            d.cleanup()


if __name__ == "__main__":
    main()

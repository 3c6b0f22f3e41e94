"""End-to-end: refmaild's life cycle, the admin socket and refmailctl, config
refusals, backup/restore and offline fsck, as an admin meets them."""
import json, os, re, signal, subprocess, tempfile, time, unittest
from harness import Daemon, REFMAILCTL, REFMAILD, main


class Foundation(unittest.TestCase):
    def setUp(self):
        self.d = Daemon()

    def tearDown(self):
        self.d.cleanup()

    def test_first_user_password_printed_once(self):
        m = re.search(r"first user (\S+) created; password: (\S+)", self.d.first_output)
        self.assertIsNotNone(m, self.d.first_output)
        self.assertEqual(m.group(1), "admin@example.test")
        self.assertGreaterEqual(len(m.group(2)), 16)
        with open(self.d.log_path, errors="replace") as f:
            self.assertNotIn(m.group(2), f.read())
        users = self.d.ctl("user", "list").stdout
        self.assertIn("admin@example.test (admin)", users)
        # A restart does not make another first user.
        self.assertEqual(self.d.stop(), 0)
        self.d.first_output = ""
        self.d.start()
        self.assertNotIn("password", self.d.first_output)

    def test_domains_users_aliases(self):
        d = self.d
        d.ctl("domain", "add", "example.org")
        self.assertIn("example.org", d.ctl("domain", "list").stdout.split())
        r = d.ctl("domain", "add", "example.org", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("exists", r.stderr)
        out = d.ctl("user", "add", "bob@example.org").stdout
        self.assertRegex(out, r"password: \S{16,}")
        d.add_user("carol@example.org", "carol-secret-1")
        self.assertEqual(d.ctl("user", "add", "x@nowhere.test", "--password-stdin", stdin="pw\n",
                               check=False).returncode, 1)
        d.ctl("alias", "add", "team@example.org", "bob@example.org", "carol@example.org")
        self.assertIn("team@example.org -> bob@example.org carol@example.org", d.ctl("alias", "list").stdout)
        r = d.ctl("domain", "remove", "example.org", check=False)
        self.assertNotEqual(r.returncode, 0, "a domain with users must not be removable")
        d.ctl("alias", "remove", "team@example.org")
        d.ctl("user", "remove", "bob@example.org")
        d.ctl("user", "passwd", "carol@example.org", "--password-stdin", stdin="new-secret-2\n")
        self.assertNotIn("bob@example.org", d.ctl("user", "list").stdout)
        st = d.stats()
        for k in ("logical_bytes", "physical_bytes", "blobs", "messages", "saving_ratio"):
            self.assertIn(k, st)
        human = d.ctl("stats").stdout
        self.assertIn("physical bytes", human)

    def test_sigterm_stops_cleanly_and_state_survives(self):
        self.d.add_user("alice@example.test", "alice-pw-1")
        t0 = time.time()
        self.assertEqual(self.d.stop(), 0)
        self.assertLess(time.time() - t0, 15)
        self.assertFalse(os.path.exists(os.path.join(self.d.data, "refmaild.sock")))
        r = self.d.ctl("user", "list", check=False)
        self.assertEqual(r.returncode, 69)
        self.assertIn("not running", r.stderr)
        self.d.start()
        self.assertIn("alice@example.test", self.d.ctl("user", "list").stdout)

    def test_admin_socket_is_owner_only(self):
        mode = os.stat(os.path.join(self.d.data, "refmaild.sock")).st_mode & 0o777
        self.assertEqual(mode, 0o600)
        self.assertEqual(os.stat(self.d.data).st_mode & 0o077, 0)
        key = os.path.join(self.d.data, "tls", "key.pem")
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)

    def test_second_daemon_on_same_store_is_refused(self):
        r = subprocess.run([REFMAILD, "-c", self.d.config], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("lock", r.stderr.lower())
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

    def test_backup_restore_and_offline_fsck(self):
        d = self.d
        d.add_user("alice@example.test", "alice-pw-1")
        backup = os.path.join(d.dir, "backup1")
        d.ctl("backup", backup)
        self.assertTrue(os.path.isdir(backup))
        self.assertIn("no drift", d.ctl("fsck").stdout)
        self.assertRegex(d.ctl("gc").stdout, r"gc: \d+ blob\(s\) deleted, \d+ bytes freed")
        r = d.ctl("fsck", "--repair", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("stop refmaild", r.stderr)
        r = d.ctl("restore", backup, check=False)
        self.assertEqual(r.returncode, 1)
        d.ctl("user", "add", "later@example.test", "--password-stdin", stdin="pw-later-1\n")
        self.assertEqual(d.stop(), 0)
        d.ctl("restore", backup)
        rep = json.loads(d.ctl("fsck", "--repair", "--json").stdout)
        self.assertEqual(rep["drift"], [])
        d.start()
        users = d.ctl("user", "list").stdout
        self.assertIn("alice@example.test", users)
        self.assertNotIn("later@example.test", users)


class Config(unittest.TestCase):
    def run_check(self, text):
        with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
            f.write(text)
        try:
            return subprocess.run([REFMAILD, "--check-config", f.name], capture_output=True, text=True,
                                  timeout=30), f.name
        finally:
            pass

    def test_check_config_names_file_line_and_key(self):
        r, name = self.run_check('hostname = "mx.example.org"\n[limits]\nmessage_size = "big"\n')
        self.assertEqual(r.returncode, 78)
        self.assertIn(f"{name}:3: key 'limits.message_size'", r.stderr)
        r, name = self.run_check('data_dirr = "/tmp"\n')
        self.assertIn(f"{name}:1: key 'data_dirr': unknown key", r.stderr)
        r, name = self.run_check('[listen]\nsmtp = "127.0.0.1:2525"\n')
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_example_config_is_valid(self):
        example = os.path.join(os.path.dirname(__file__), "..", "..", "config", "refmail.toml")
        r = subprocess.run([REFMAILD, "--check-config", example], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_unwritable_data_dir_is_one_clear_line(self):
        with tempfile.TemporaryDirectory() as t:
            cfg = os.path.join(t, "c.toml")
            blocker = os.path.join(t, "file")
            open(blocker, "w").close()
            with open(cfg, "w") as f:
                f.write(f'data_dir = "{blocker}/data"\n')
            r = subprocess.run([REFMAILD, "-c", cfg], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 1)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
            self.assertIn("data", r.stderr)


if __name__ == "__main__":
    main()

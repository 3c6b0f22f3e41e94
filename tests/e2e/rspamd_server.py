"""tests/e2e/rspamd_server.py — Debian's rspamd on loopback for the tests: the normal
worker and the controller on free ports, configuration, logs and databases in a
temporary folder (the system's /etc/rspamd is read, never written), DNS pointed at a
closed port so nothing leaves the machine, and rspamd's test patterns on (the GTUBE
variants: XJS reject, YJS add header, ZJS rewrite subject), Bayes on SQLite so learning
is stored. Started and stopped by PID."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

from harness import free_port, closed_udp_port

RSPAMD = "/usr/bin/rspamd"

GTUBE_TAIL = "JS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
GTUBE_REJECT = "X" + GTUBE_TAIL
GTUBE_ADD_HEADER = "Y" + GTUBE_TAIL
GTUBE_REWRITE_SUBJECT = "Z" + GTUBE_TAIL


class Rspamd:
    def __init__(self, password="rspamd-test-pw"):
        if not os.path.exists(RSPAMD):
            raise RuntimeError("rspamd is not installed (apt-get install rspamd; tools/install-deps.sh --test)")
        self.work = tempfile.mkdtemp(prefix="refmail-rspamd-")
        self.port = free_port()
        self.controller_port = free_port()
        self.password = password
        conf = os.path.join(self.work, "conf")
        for d in ("override.d", "local.d"):
            os.makedirs(os.path.join(conf, d))
        os.makedirs(os.path.join(self.work, "db"))
        self.log_path = os.path.join(self.work, "rspamd.log")
        files = {
            "override.d/worker-normal.inc": 'bind_socket = "127.0.0.1:%d";\ncount = 1;\n' % self.port,
            "override.d/worker-controller.inc": ('bind_socket = "127.0.0.1:%d";\npassword = "%s";\n'
                                                 'enable_password = "%s";\ncount = 1;\n'
                                                 % (self.controller_port, password, password)),
            "override.d/worker-proxy.inc": 'count = 0;\nbind_socket = "127.0.0.1:%d";\n' % free_port(),
            "override.d/worker-fuzzy.inc": 'count = -1;\n',
            "override.d/logging.inc": 'type = "file";\nfilename = "%s";\nlevel = "info";\n' % self.log_path,
            "local.d/options.inc": ('dns {\n  nameserver = ["127.0.0.1:%d"];\n  timeout = 0.2s;\n'
                                    '  retransmits = 1;\n}\nenable_test_patterns = true;\n' % closed_udp_port()),
            # Bayes on SQLite in the temporary folder (Debian's default wants Redis), so
            # learning is real: what the controller is taught is stored and counted.
            "local.d/classifier-bayes.conf": (
                'backend = "sqlite3";\nmin_learns = 1;\n'
                'statfile {\n  symbol = "BAYES_HAM";\n  spam = false;\n  path = "%s/db/bayes.ham.sqlite";\n}\n'
                'statfile {\n  symbol = "BAYES_SPAM";\n  spam = true;\n  path = "%s/db/bayes.spam.sqlite";\n}\n'
                % (self.work, self.work)),
        }
        for name, text in files.items():
            with open(os.path.join(conf, name), "w") as f:
                f.write(text)
        w = self.work
        self.proc = subprocess.Popen(
            [RSPAMD, "-f", "-i", "-c", "/etc/rspamd/rspamd.conf", "--var", "LOCAL_CONFDIR=" + conf,
             "--var", "RUNDIR=" + w, "--var", "DBDIR=" + os.path.join(w, "db"), "--var", "LOGDIR=" + w],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.time() + 60
        while True:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace")
                self.stop()
                raise RuntimeError("rspamd exited: " + err + self.tail())
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/ping" % self.port, timeout=1) as r:
                    if r.read().strip() == b"pong":
                        return
            except OSError:
                pass
            if time.time() > deadline:
                self.stop()
                raise RuntimeError("rspamd did not answer /ping on port %d" % self.port)
            time.sleep(0.2)

    def tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                return "\n".join(f.read().decode(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def learned(self, kind, message_id, timeout=20):
        """True once the controller logged that it learned `message_id` as `kind` (spam/ham)."""
        pat = re.compile(r"learned message as %s: <?%s>?" % (kind, re.escape(message_id)))
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with open(self.log_path, "rb") as f:
                    if pat.search(f.read().decode(errors="replace")):
                        return True
            except OSError:
                pass
            time.sleep(0.2)
        return False

    def stop(self):
        if self.proc.poll() is None:
            # rspamd's main process and its workers share the session this object started.
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc.stderr.close()
        shutil.rmtree(self.work, ignore_errors=True)

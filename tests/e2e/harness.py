"""Harness for refmail's end-to-end tests: starts the real refmaild on free loopback
ports with a temporary data folder and a config file, and drives it with real
clients (smtplib, refmailctl, swaks, openssl). Everything stays on 127.0.0.1; every
process started here is stopped by PID."""
import http.client, json, os, shutil, signal, socket, subprocess, tempfile, time, unittest

BUILD = os.environ.get("REFMAIL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
REFMAILD = os.path.join(BUILD, "server", "refmaild")
REFMAILCTL = os.path.join(BUILD, "tools", "refmailctl")


class UnixHTTP(http.client.HTTPConnection):
    """HTTP over refmaild's admin unix socket (<data_dir>/refmaild.sock)."""

    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


class Daemon:
    """One refmaild with its own folder, ports and config."""

    def __init__(self, extra_toml="", domains=("example.test",)):
        self.dir = tempfile.mkdtemp(prefix="refmail-e2e-")
        self.ports = {k: free_port() for k in ("smtp", "submission", "smtps", "http")}
        self.data = os.path.join(self.dir, "data")
        self.config = os.path.join(self.dir, "refmail.toml")
        doms = ", ".join(f'"{d}"' for d in domains)
        with open(self.config, "w") as f:
            f.write(f'data_dir = "{self.data}"\nhostname = "mx.example.test"\nlocal_domains = [{doms}]\n'
                    f'log_level = "debug"\n{extra_toml}\n[listen]\n'
                    + "".join(f'{k} = "127.0.0.1:{p}"\n' for k, p in self.ports.items()))
        self.log_path = os.path.join(self.dir, "refmaild.log")
        self.proc = None
        self.first_output = ""
        self.start()

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([REFMAILD, "-c", self.config], stdout=subprocess.PIPE,
                                     stderr=self.log, cwd=self.dir)
        if not all(wait_port(p, self.proc) for p in self.ports.values()):
            raise RuntimeError("refmaild did not start: " + self.tail())
        # stdout carries only the first-user announcement; read what is there.
        os.set_blocking(self.proc.stdout.fileno(), False)
        try:
            self.first_output += (self.proc.stdout.read() or b"").decode()
        except (BlockingIOError, TypeError):
            pass

    def tail(self, n=20):
        try:
            with open(self.log_path, "rb") as f:
                return "\n".join(f.read().decode(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def ctl(self, *args, stdin=None, check=True):
        r = subprocess.run([REFMAILCTL, "-c", self.config, *args], input=stdin, capture_output=True,
                           text=True, timeout=120)
        if check and r.returncode != 0:
            raise AssertionError(f"refmailctl {args} failed ({r.returncode}): {r.stdout}{r.stderr}")
        return r

    def add_user(self, address, password):
        self.ctl("user", "add", address, "--password-stdin", stdin=password + "\n")

    def stats(self):
        return json.loads(self.ctl("stats", "--json").stdout)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("refmaild did not stop within %ds" % timeout)
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        self.log.close()
        return self.proc.returncode

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        self.log.close()

    def cleanup(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def main():
    unittest.main(verbosity=2)

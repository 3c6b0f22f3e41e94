"""Harness for refmail's end-to-end tests: starts the real refmaild on free loopback
ports with a temporary data folder and a config file, and drives it with real
clients (smtplib, refmailctl, swaks, openssl). Everything stays on 127.0.0.1; every
process started here is stopped by PID."""
import base64, http.client, json, os, shutil, signal, socket, subprocess, sys, tempfile, time, unittest
import urllib.error, urllib.parse, urllib.request

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


def free_ports(names):
    """{name: port} with every port distinct: all are held bound while they are chosen (one
    free_port() after another may be handed the same port twice)."""
    socks = []
    try:
        for _ in names:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return {n: s.getsockname()[1] for n, s in zip(names, socks)}
    finally:
        for s in socks:
            s.close()


def dkimpy():
    """Debian's python3-dkim (dkimpy), the independent DKIM/ARC oracle, also when the
    python3 running the tests is not Debian's own (its dist-packages added to the path)."""
    try:
        import dkim
    except ImportError:
        p = "/usr/lib/python3/dist-packages"
        if os.path.isdir(os.path.join(p, "dkim")) and p not in sys.path:
            sys.path.append(p)
        import dkim
    return dkim


def closed_udp_port():
    """A loopback UDP port nobody listens on: a DNS server there answers every query
    with ECONNREFUSED at once (a resolver configured with it fails fast, never hangs)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


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
        self.ports = free_ports(("smtp", "submission", "smtps", "imap", "imaps", "http", "managesieve"))
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


def with_attachment(subject, payload, to, line=76, eol="\r\n", name="report.pdf", frm="sender@outside.test"):
    """A multipart/mixed message: "See attached." and `payload` as a base64 application/pdf
    attachment in lines of `line` characters ending in `eol` (76 and CRLF are what the
    splitter's encoder writes, so such an attachment is cut)."""
    b64 = base64.b64encode(payload).decode()
    body = eol.join(b64[i:i + line] for i in range(0, len(b64), line))
    return (f"From: {frm}{eol}To: {to}{eol}Subject: {subject}{eol}MIME-Version: 1.0{eol}"
            f"Content-Type: multipart/mixed; boundary=\"b1\"{eol}{eol}"
            f"--b1{eol}Content-Type: text/plain; charset=utf-8{eol}{eol}See attached.{eol}"
            f"--b1{eol}Content-Type: application/pdf; name=\"{name}\"{eol}"
            f"Content-Disposition: attachment; filename=\"{name}\"{eol}"
            f"Content-Transfer-Encoding: base64{eol}{eol}{body}{eol}--b1--{eol}").encode()


def http_request(url, method="GET", body=None, headers=None, timeout=60):
    """(status, body bytes, headers dict) of one request; an HTTP error status is a value,
    not an exception."""
    req = urllib.request.Request(url, data=body, method=method)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


class JmapClient:
    """One account's JMAP client over refmaild's HTTP port: urllib with HTTP Basic (allowed
    without TLS from loopback), curl for downloads. Fetches the session resource at once."""

    def __init__(self, port, user, password):
        self.base = f"http://127.0.0.1:{port}"
        self.user, self.password = user, password
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        st, body, _ = self.request("GET", "/.well-known/jmap")
        assert st == 200, (st, body)
        self.session = json.loads(body)
        self.account = self.session["primaryAccounts"]["urn:ietf:params:jmap:mail"]

    def request(self, method, path, body=None, headers=None):
        return http_request(self.base + path, method, body, {"Authorization": self.auth, **(headers or {})})

    def call(self, *calls):
        """The methodResponses of one /jmap/api request; asserts HTTP 200."""
        body = json.dumps({"using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail",
                                     "urn:ietf:params:jmap:submission"],
                           "methodCalls": [list(c) for c in calls]}).encode()
        st, data, _ = self.request("POST", "/jmap/api", body, {"Content-Type": "application/json"})
        assert st == 200, (st, data[:300])
        return json.loads(data)["methodResponses"]

    def upload_path(self):
        return self.session["uploadUrl"].replace("{accountId}", self.account)

    def upload(self, data, type_="application/octet-stream"):
        return self.request("POST", self.upload_path(), data, {"Content-Type": type_})

    def download_path(self, blob, name="file", type_="application/octet-stream"):
        return (self.session["downloadUrl"].replace("{accountId}", self.account).replace("{blobId}", blob)
                .replace("{name}", name).replace("{type}", urllib.parse.quote(type_, safe="")))

    def curl(self, *args, data=None):
        r = subprocess.run(["curl", "-s", "-u", f"{self.user}:{self.password}", *args], input=data,
                           capture_output=True, timeout=60)
        return r.stdout

    def mailboxes(self):
        r = self.call(["Mailbox/get", {"accountId": self.account}, "m"])
        return {b["role"] or b["name"]: b["id"] for b in r[0][1]["list"]}

    def latest(self, props):
        """Every email, newest first, with `props` and the text body values."""
        r = self.call(["Email/query", {"accountId": self.account,
                                       "sort": [{"property": "receivedAt", "isAscending": False}]}, "q"],
                      ["Email/get", {"accountId": self.account, "properties": props, "fetchTextBodyValues": True,
                                     "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"}}, "g"])
        return r[1][1]["list"]

    def subjects(self):
        return [e["subject"] for e in self.latest(["subject"])]


def main():
    unittest.main(verbosity=2)

"""End-to-end: the relay worker. A stdlib DNS responder (MX + A on 127.0.0.1) and small
threaded SMTP servers play the foreign domain's MX and a smarthost. Checks: the message
arrives byte-identical to what refmail stored (plus one Received: line), 451 is retried,
550 / null MX / NXDOMAIN bounce into the local sender's INBOX, a smarthost with AUTH over
STARTTLS is used and a wrong certificate refused, kill -9 during delivery loses nothing,
and the queue admin routes (list, hold, release, retry, delete)."""
import base64, http.client, json, os, random, shutil, smtplib, socket, socketserver, ssl, struct
import subprocess, tempfile, threading, time, unittest
from harness import Daemon, main, free_port, UnixHTTP
from nsd_server import Nsd


# ---------------------------------------------------------------- DNS responder
class DnsResponder:
    """Answers MX and A from a table over UDP on 127.0.0.1; everything else NXDOMAIN."""

    def __init__(self, mx, a, nodata=(), servfail=()):
        self.mx, self.a, self.nodata, self.servfail = mx, a, set(nodata), set(servfail)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.queries = []
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    @staticmethod
    def encode_name(name):
        out = b""
        for label in name.strip(".").split("."):
            if label:
                out += bytes([len(label)]) + label.encode()
        return out + b"\0"

    def serve(self):
        while self.running:
            try:
                data, addr = self.sock.recvfrom(4096)
            except OSError:
                return
            try:
                self.sock.sendto(self.answer(data), addr)
            except Exception:
                pass

    def answer(self, q):
        qid, flags, qd = struct.unpack(">HHH", q[:6])
        pos, labels = 12, []
        while q[pos]:
            n = q[pos]
            labels.append(q[pos + 1:pos + 1 + n].decode())
            pos += 1 + n
        qname = ".".join(labels).lower()
        qtype, _ = struct.unpack(">HH", q[pos + 1:pos + 5])
        question = q[12:pos + 5]
        self.queries.append((qname, qtype))
        answers, rcode = [], 0
        if qname in self.servfail:
            rcode = 2  # SERVFAIL
        elif qtype == 15 and qname in self.mx:
            for pref, host in self.mx[qname]:
                rdata = struct.pack(">H", pref) + self.encode_name(host)
                answers.append((15, rdata))
        elif qtype == 1 and qname in self.a:
            for ip in self.a[qname]:
                answers.append((1, socket.inet_aton(ip)))
        elif qname in self.mx or qname in self.a or qname in self.nodata:
            pass  # NOERROR, no data (e.g. AAAA)
        else:
            rcode = 3  # NXDOMAIN
        hdr = struct.pack(">HHHHHH", qid, 0x8180 | rcode, 1, len(answers), 0, 0)
        body = b""
        for t, rdata in answers:
            body += b"\xc0\x0c" + struct.pack(">HHIH", t, 1, 60, len(rdata)) + rdata
        return hdr + question + body

    def close(self):
        self.running = False
        self.sock.close()


# ---------------------------------------------------------------- SMTP peer
class Peer:
    """A small SMTP server (one thread per connection). Per-recipient behaviour:
    'reject*' -> 550, 'later*' -> 451 on the first attempt then 250. Optional STARTTLS
    (tls_ctx) and AUTH PLAIN (auth=(user, password), required before MAIL).
    stall_data: seconds to wait before answering the end of DATA."""

    def __init__(self, tls_ctx=None, auth=None, stall_data=0):
        self.tls_ctx, self.auth, self.stall_data = tls_ctx, auth, stall_data
        self.messages = []  # (mail_from, [rcpts], bytes, tls, authed)
        self.seen_later = set()
        self.commands = []
        self.connections = self.closed = 0  # sessions opened / ended
        self.lock = threading.Lock()
        peer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                with peer.lock:
                    peer.connections += 1
                try:
                    peer.session(self.request)
                finally:
                    with peer.lock:
                        peer.closed += 1

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def session(self, sock):
        f = sock.makefile("rb")
        tls = authed = False

        def send(line):
            sock.sendall(line.encode() + b"\r\n")

        send("220 mx.remote.test ESMTP test peer")
        mail_from, rcpts = None, []
        while True:
            line = f.readline()
            if not line:
                return
            cmd = line.decode(errors="replace").rstrip("\r\n")
            with self.lock:
                self.commands.append(cmd)
            verb = cmd[:4].upper()
            if verb == "EHLO":
                exts = ["8BITMIME", "SIZE 100000000", "SMTPUTF8"]
                if self.tls_ctx and not tls:
                    exts.append("STARTTLS")
                if self.auth and tls:
                    exts.append("AUTH PLAIN")
                lines = ["mx.remote.test"] + exts
                for i, l in enumerate(lines):
                    send(("250 " if i == len(lines) - 1 else "250-") + l)
            elif verb == "HELO":
                send("250 mx.remote.test")
            elif cmd.upper() == "STARTTLS" and self.tls_ctx:
                send("220 go ahead")
                try:
                    sock = self.tls_ctx.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError):
                    return
                f = sock.makefile("rb")
                tls = True
            elif verb == "AUTH":
                parts = cmd.split()
                ok = False
                if len(parts) == 3 and parts[1].upper() == "PLAIN":
                    try:
                        _, u, p = base64.b64decode(parts[2]).split(b"\0")
                        ok = (u.decode(), p.decode()) == self.auth
                    except Exception:
                        ok = False
                if ok:
                    authed = True
                    send("235 2.7.0 ok")
                else:
                    send("535 5.7.8 bad credentials")
            elif verb == "MAIL":
                if self.auth and not authed:
                    send("530 5.7.0 authentication required")
                    continue
                mail_from, rcpts = cmd[cmd.index("<") + 1:cmd.index(">")], []
                send("250 2.1.0 ok")
            elif verb == "RCPT":
                r = cmd[cmd.index("<") + 1:cmd.index(">")]
                local = r.split("@")[0]
                if local.startswith("reject"):
                    send("550 5.1.1 <%s>: no such user here" % r)
                elif local.startswith("always451"):
                    send("451 4.3.0 still not ready")
                elif local.startswith("later") and r not in self.seen_later:
                    self.seen_later.add(r)
                    send("451 4.3.0 try again later")
                else:
                    rcpts.append(r)
                    send("250 2.1.5 ok")
            elif verb == "DATA":
                if not rcpts:
                    send("554 5.5.1 no valid recipients")
                    continue
                send("354 go on")
                data = b""
                while True:
                    l = f.readline()
                    if not l:
                        return
                    if l == b".\r\n":
                        break
                    if l.startswith(b"."):
                        l = l[1:]
                    data += l
                if self.stall_data:
                    time.sleep(self.stall_data)
                with self.lock:
                    self.messages.append((mail_from, rcpts, data, tls, authed))
                send("250 2.0.0 queued")
            elif verb == "RSET":
                mail_from, rcpts = None, []
                send("250 ok")
            elif verb == "QUIT":
                send("221 bye")
                return
            else:
                send("502 5.5.2 not implemented")

    def wait(self, n, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.messages) >= n:
                    return list(self.messages)
            time.sleep(0.1)
        with self.lock:
            return list(self.messages)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- helpers
def tls_client_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def message(subject, to, payload, frm="alice@example.test"):
    b64 = base64.b64encode(payload).decode()
    body = "\r\n".join(b64[i:i + 76] for i in range(0, len(b64), 76))
    return (f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
            f"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attached.\r\n"
            f"--b1\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\n"
            f"Content-Disposition: attachment; filename=\"data.bin\"\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n{body}\r\n--b1--\r\n").encode()


def submit(d, rcpts, data, user="alice@example.test", password="alice-pw"):
    s = smtplib.SMTP("127.0.0.1", d.ports["submission"], timeout=30)
    s.starttls(context=tls_client_ctx())
    s.login(user, password)
    refused = s.sendmail(user, rcpts, data)
    s.quit()
    return refused


def admin(d, method, path, body=None):
    c = UnixHTTP(os.path.join(d.data, "refmaild.sock"))
    c.request(method, "/admin/v1/" + path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    out = r.status, json.loads(r.read() or b"{}")
    c.close()
    return out


def queue(d):
    st, v = admin(d, "GET", "queue")
    assert st == 200, v
    return v["queue"]


def wait_until(pred, timeout=30, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def strip_received(data):
    """Returns (the first trace field, the rest) of a message's bytes."""
    lines = data.split(b"\r\n")
    assert lines[0].startswith(b"Received:"), lines[0]
    i = 1
    while lines[i].startswith((b"\t", b" ")):
        i += 1
    return b"\r\n".join(lines[:i]), b"\r\n".join(lines[i:])


RELAY_BASE = "[relay]\nretry_schedule = [1, 2]\ntimeout = 10\n"

# remote.test and origin.test have their MX on 127.0.0.1 (where ForeignMx's Peer listens).
FOREIGN_ZONE = """$ORIGIN test.
$TTL 60
@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
@ IN NS ns.test.
ns IN A 127.0.0.1
remote IN MX 10 mx.remote.test.
origin IN MX 10 mx.remote.test.
mx.remote IN A 127.0.0.1
"""


class ForeignMx:
    """The world for a relaying refmaild: a Peer as the MX of remote.test and origin.test,
    found through nsd (a real authoritative server, tests/e2e/nsd_server.py), and the
    refmaild (`d`) relaying to it. close() stops all three."""

    def __init__(self, extra_toml=""):
        self.peer = Peer()
        try:
            self.nsd = Nsd({"test": FOREIGN_ZONE})
        except Exception:
            self.peer.close()
            raise
        try:
            self.d = Daemon(extra_toml=RELAY_BASE + f'dns_servers = ["127.0.0.1:{self.nsd.port}"]\n'
                                                    f"mx_port = {self.peer.port}\n" + extra_toml)
        except Exception:
            self.nsd.stop()
            self.peer.close()
            raise

    def close(self):
        try:
            self.d.cleanup()
        finally:
            self.nsd.stop()
            self.peer.close()


# ---------------------------------------------------------------- MX relay
class RelayMx(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.peer = Peer()
        cls.dns = DnsResponder(
            mx={"remote.test": [(10, "mx.remote.test")], "nullmx.test": [(0, ".")],
                "backup.test": [(5, "dead.backup.test"), (10, "mx.remote.test")]},
            a={"mx.remote.test": ["127.0.0.1"], "dead.backup.test": ["127.0.0.2"]},
            nodata=("implicit.test",), servfail=("broken.test",))
        cls.d = Daemon(extra_toml=RELAY_BASE + f'dns_servers = ["127.0.0.1:{cls.dns.port}"]\n'
                                              f"mx_port = {cls.peer.port}\n")
        cls.d.add_user("alice@example.test", "alice-pw")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.peer.close()
        cls.dns.close()

    def inbox(self):
        st, v = admin(self.d, "GET", "rows/alice@example.test")
        self.assertEqual(st, 200, v)
        return v["rows"]

    def wait_queue_empty(self, timeout=30):
        return wait_until(lambda: not queue(self.d), timeout)

    def test_1_byte_identical_delivery(self):
        payload = random.Random(5).randbytes(300 * 1024)
        data = message("identical", "bob@remote.test", payload)
        before = len(self.peer.messages)
        self.assertEqual(submit(self.d, ["bob@remote.test"], data), {})
        msgs = self.peer.wait(before + 1)
        self.assertGreater(len(msgs), before, self.d.tail())
        frm, rcpts, got, tls, _ = msgs[before]
        self.assertEqual(frm, "alice@example.test")
        self.assertEqual(rcpts, ["bob@remote.test"])
        relay_line, stored = strip_received(got)
        self.assertIn(b"by mx.example.test (refmail relay)", relay_line)
        ingest_line, original = strip_received(stored)
        self.assertIn(b"by mx.example.test (refmail)", ingest_line)
        self.assertTrue(original == data, "relayed bytes differ from the stored message")
        self.assertNotIn(b"\nbcc:", got.split(b"\r\n\r\n")[0].lower())
        self.assertTrue(self.wait_queue_empty(), queue(self.d))
        st = self.d.stats()
        self.assertEqual(st["queue_size"], 0)

    def test_2_tempfail_is_retried_then_delivered(self):
        before = len(self.peer.messages)
        data = message("later", "later1@remote.test", b"x" * 5000)
        self.assertEqual(submit(self.d, ["later1@remote.test"], data), {})
        msgs = self.peer.wait(before + 1, timeout=40)
        self.assertGreater(len(msgs), before, self.d.tail(40))
        self.assertEqual(msgs[before][1], ["later1@remote.test"])
        rcpt_cmds = [c for c in self.peer.commands if c.upper().startswith("RCPT TO:<LATER1@")]
        self.assertGreaterEqual(len(rcpt_cmds), 2)
        self.assertTrue(self.wait_queue_empty())

    def test_3_permanent_failures_bounce_to_sender(self):
        rows0 = len(self.inbox())
        data = message("doomed", "reject1@remote.test", b"y" * 3000)
        # One message, three destinations: a 550 at the MX, a null MX, NXDOMAIN; plus
        # one recipient that is accepted (only it must arrive).
        before = len(self.peer.messages)
        self.assertEqual(submit(self.d, ["reject1@remote.test", "ok1@remote.test", "x@nullmx.test",
                                         "y@nxdomain.test"], data), {})
        msgs = self.peer.wait(before + 1)
        self.assertEqual(msgs[before][1], ["ok1@remote.test"])
        rows = wait_until(lambda: len(self.inbox()) >= rows0 + 3 and self.inbox(), 30)
        self.assertTrue(rows, self.d.tail(40))
        self.assertEqual(len(self.inbox()), rows0 + 3)  # one bounce per failed batch (row)
        self.assertTrue(self.wait_queue_empty())
        with open(self.d.log_path, "rb") as f:
            log = f.read().decode(errors="replace")
        self.assertIn("relay.bounce", log)
        self.assertIn("null MX", log)
        self.assertIn("NXDOMAIN", log)

    def test_4_next_mx_when_first_is_dead(self):
        before = len(self.peer.messages)
        data = message("backup", "carol@backup.test", b"z" * 100)
        self.assertEqual(submit(self.d, ["carol@backup.test"], data), {})
        msgs = self.peer.wait(before + 1, timeout=40)
        self.assertGreater(len(msgs), before, self.d.tail(40))
        self.assertEqual(msgs[before][1], ["carol@backup.test"])

    def test_6_servfail_is_retried_not_bounced(self):
        rows0 = len(self.inbox())
        data = message("dns trouble", "erin@broken.test", b"d" * 100)
        self.assertEqual(submit(self.d, ["erin@broken.test"], data), {})
        rows = wait_until(lambda: [r for r in queue(self.d) if r["rcpt_to"] == ["erin@broken.test"]
                                   and r["attempts"] >= 2], 30)
        self.assertTrue(rows, queue(self.d))
        self.assertIn("MX lookup", rows[0]["last_error"])
        self.assertEqual(len(self.inbox()), rows0)  # no bounce
        self.assertEqual(admin(self.d, "DELETE", "queue/" + rows[0]["id"])[0], 200)

    def test_7_notify_never_suppresses_the_bounce(self):
        rows0 = len(self.inbox())
        data = message("quiet", "reject7@remote.test", b"n" * 100)
        s = smtplib.SMTP("127.0.0.1", self.d.ports["submission"], timeout=30)
        s.starttls(context=tls_client_ctx())
        s.login("alice@example.test", "alice-pw")
        self.assertEqual(s.sendmail("alice@example.test", ["reject7@remote.test", "reject8@remote.test"], data,
                                    rcpt_options=["NOTIFY=NEVER"]), {})
        s.quit()
        self.assertTrue(wait_until(lambda: any(c.upper().startswith("RCPT TO:<REJECT8@") for c in self.peer.commands)))
        self.assertTrue(self.wait_queue_empty())
        time.sleep(0.5)
        self.assertEqual(len(self.inbox()), rows0)
        with open(self.d.log_path, "rb") as f:
            self.assertIn(b"rcpt=reject8@remote.test status=5.1.1", f.read())

    def test_5_queue_admin_hold_release_delete(self):
        # A destination whose MX host is unreachable: the row stays queued.
        dns_bad = {"slow.test": [(10, "dead.backup.test")]}
        self.dns.mx.update(dns_bad)
        data = message("queued", "dave@slow.test", b"q" * 100)
        self.assertEqual(submit(self.d, ["dave@slow.test"], data), {})
        rows = wait_until(lambda: [r for r in queue(self.d) if r["rcpt_to"] == ["dave@slow.test"]
                                   and r["attempts"] >= 1])
        self.assertTrue(rows)
        qid = rows[0]["id"]
        self.assertEqual(admin(self.d, "POST", f"queue/{qid}/hold", {})[0], 200)
        st, v = admin(self.d, "GET", f"queue/{qid}")
        self.assertEqual(st, 200)
        self.assertTrue(v["held"])
        self.assertEqual(admin(self.d, "POST", f"queue/{qid}/retry", {})[0], 409)
        self.assertEqual(admin(self.d, "POST", f"queue/{qid}/release", {})[0], 200)
        self.assertFalse(admin(self.d, "GET", f"queue/{qid}")[1]["held"])
        self.assertEqual(self.d.stats()["queue_size"], 1)
        self.assertEqual(admin(self.d, "DELETE", f"queue/{qid}")[0], 200)
        self.assertEqual(admin(self.d, "GET", f"queue/{qid}")[0], 404)
        self.assertEqual(self.d.stats()["queue_size"], 0)
        r = self.d.ctl("queue", "list", check=False)
        self.assertEqual(r.returncode, 0, r.stderr)


class BadPeer:
    """A misbehaving MX on 127.0.0.<n>:<port> (the port every MX connection uses)."""

    def __init__(self, ip, port, mode, good):
        self.mode, self.good, self.connections = mode, good, 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, port))
        self.sock.listen(16)
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self.serve, args=(conn, self.connections), daemon=True).start()

    def serve(self, conn, n):
        f = conn.makefile("rb")
        try:
            if self.mode == "garbage":
                conn.sendall(b"\x00\xffHELLO? \x01\x02\r\nnot smtp at all\r\n")
                time.sleep(1)
            elif self.mode == "close":
                conn.sendall(b"220-mx.bad.test partial")
            elif self.mode == "stall":
                time.sleep(6)
            elif self.mode == "huge":
                conn.sendall(b"220 ok\r\n")
                f.readline()
                conn.sendall(b"".join(b"250-line %d\r\n" % i for i in range(10000)) + b"250 done\r\n")
                time.sleep(1)
            elif self.mode == "badtls":
                conn.sendall(b"220 ok\r\n")
                f.readline()
                if n == 1:
                    conn.sendall(b"250-mx.bad.test\r\n250 STARTTLS\r\n")
                    f.readline()
                    conn.sendall(b"220 go ahead\r\n")
                    conn.sendall(b"this is not a TLS server hello\r\n" * 4)
                    time.sleep(0.5)
                else:  # the plaintext retry: hand over to a good peer session
                    conn.sendall(b"250 mx.bad.test\r\n")
                    mail_from, rcpts = None, []
                    while True:
                        line = f.readline().decode(errors="replace").rstrip("\r\n")
                        if not line:
                            return
                        v = line[:4].upper()
                        if v == "MAIL":
                            mail_from = line[line.index("<") + 1:line.index(">")]
                            conn.sendall(b"250 ok\r\n")
                        elif v == "RCPT":
                            rcpts.append(line[line.index("<") + 1:line.index(">")])
                            conn.sendall(b"250 ok\r\n")
                        elif v == "DATA":
                            conn.sendall(b"354 go\r\n")
                            data = b""
                            while (l := f.readline()) not in (b".\r\n", b""):
                                data += l[1:] if l.startswith(b".") else l
                            with self.good.lock:
                                self.good.messages.append((mail_from, rcpts, data, False, False))
                            conn.sendall(b"250 queued\r\n")
                        elif v == "QUIT":
                            conn.sendall(b"221 bye\r\n")
                            return
                        else:
                            conn.sendall(b"250 ok\r\n")
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.sock.close()


class BadInput(unittest.TestCase):
    """Each misbehaving MX ends in a retry with the reason recorded; the worker keeps
    delivering everything else."""

    def test_bad_peers(self):
        good = Peer()
        modes = {"garbage": "127.0.0.3", "close": "127.0.0.4", "stall": "127.0.0.5", "huge": "127.0.0.6",
                 "badtls": "127.0.0.7"}
        bad = [BadPeer(ip, good.port, m, good) for m, ip in modes.items()]
        dns = DnsResponder(mx={**{f"{m}.test": [(10, f"mx.{m}.test")] for m in modes},
                               "remote.test": [(10, "mx.remote.test")]},
                           a={**{f"mx.{m}.test": [ip] for m, ip in modes.items()},
                              "mx.remote.test": ["127.0.0.1"]})
        d = Daemon(extra_toml="[relay]\nretry_schedule = [1, 60]\ntimeout = 2\n"
                              f'dns_servers = ["127.0.0.1:{dns.port}"]\nmx_port = {good.port}\n')
        try:
            d.add_user("alice@example.test", "alice-pw")
            rcpts = [f"x@{m}.test" for m in modes]
            self.assertEqual(submit(d, rcpts, message("bad peers", "x@garbage.test", b"b" * 100)), {})
            # Every bad destination has been tried and recorded a reason.
            want = {f"x@{m}.test" for m in modes if m != "badtls"}
            def tried():
                rows = {r["rcpt_to"][0]: r for r in queue(d) if r["attempts"] >= 1}
                return rows if want <= set(rows) else None
            rows = wait_until(tried, 40)
            self.assertTrue(rows, queue(d))
            for r in want:
                self.assertTrue(rows[r]["last_error"], r)
                if os.environ.get("RELAY_TEST_VERBOSE"):
                    print(r, rows[r]["last_error"])
            # STARTTLS that fails its handshake: the next attempt goes in plaintext and delivers.
            got = good.wait(1, timeout=30)
            self.assertEqual([m[1] for m in got], [["x@badtls.test"]], d.tail(30))
            # The worker still delivers other mail.
            self.assertEqual(submit(d, ["ok@remote.test"], message("after", "ok@remote.test", b"a" * 10)), {})
            got = good.wait(2, timeout=30)
            self.assertEqual(got[-1][1], ["ok@remote.test"])
            self.assertIsNone(d.proc.poll())
            inbox = admin(d, "GET", "rows/alice@example.test")[1]["rows"]
            self.assertEqual(inbox, [])  # temporary failures: no bounce
        finally:
            d.cleanup()
            for b in bad:
                b.close()
            good.close()
            dns.close()


class DelayWarning(unittest.TestCase):
    def test_one_warning_then_still_queued(self):
        peer = Peer()
        dns = DnsResponder(mx={"remote.test": [(10, "mx.remote.test")]}, a={"mx.remote.test": ["127.0.0.1"]})
        d = Daemon(extra_toml=RELAY_BASE + f'dns_servers = ["127.0.0.1:{dns.port}"]\nmx_port = {peer.port}\n'
                                           "delay_warnings = true\ndelay_warning_after = 1\n")
        try:
            d.add_user("alice@example.test", "alice-pw")
            data = message("slow", "always451@remote.test", b"w" * 100)
            self.assertEqual(submit(d, ["always451@remote.test"], data), {})
            rows = wait_until(lambda: [r for r in queue(d) if r["attempts"] >= 3], 40)
            self.assertTrue(rows, d.tail(30))
            inbox = admin(d, "GET", "rows/alice@example.test")[1]["rows"]
            self.assertEqual(len(inbox), 1)  # exactly one warning, not one per attempt
            self.assertIn("451", rows[0]["last_error"])
            with open(d.log_path, "rb") as f:
                self.assertEqual(f.read().count(b"relay.delay_warning"), 1)
        finally:
            d.cleanup()
            peer.close()
            dns.close()


# ---------------------------------------------------------------- smarthost
def make_certs(dirpath):
    """A CA, a server certificate for 127.0.0.1 signed by it, and a self-signed one."""
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=dirpath)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=refmail test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr",
        "-subj", "/CN=127.0.0.1")
    with open(os.path.join(dirpath, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "srv.pem", "-days", "2", "-extfile", "ext.cnf")
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "bad.key", "-out", "bad.pem", "-days", "2",
        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")


def server_ctx(dirpath, name):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(dirpath, name + ".pem"), os.path.join(dirpath, name + ".key"))
    return ctx


class Smarthost(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="refmail-certs-")
        make_certs(cls.tmp)
        cls.pwfile = os.path.join(cls.tmp, "pw")
        with open(cls.pwfile, "w") as f:
            f.write("s3cret-relay\n")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def daemon(self, port):
        return Daemon(extra_toml=RELAY_BASE + f'smarthost = "127.0.0.1:{port}"\nsmarthost_tls = "starttls"\n'
                                              f'smarthost_auth = "plain"\nsmarthost_user = "relayuser"\n'
                                              f'smarthost_password_file = "{self.pwfile}"\n'
                                              f'smarthost_ca_file = "{os.path.join(self.tmp, "ca.pem")}"\n')

    def test_auth_over_starttls(self):
        peer = Peer(tls_ctx=server_ctx(self.tmp, "srv"), auth=("relayuser", "s3cret-relay"))
        d = self.daemon(peer.port)
        try:
            d.add_user("alice@example.test", "alice-pw")
            data = message("via smarthost", "zed@anywhere.test", b"s" * 4000)
            self.assertEqual(submit(d, ["zed@anywhere.test"], data), {})
            msgs = peer.wait(1)
            self.assertEqual(len(msgs), 1, d.tail(40))
            frm, rcpts, got, tls, authed = msgs[0]
            self.assertTrue(tls)
            self.assertTrue(authed)
            self.assertEqual(rcpts, ["zed@anywhere.test"])
            self.assertTrue(strip_received(strip_received(got)[1])[1] == data)
            self.assertTrue(wait_until(lambda: not queue(d)))
        finally:
            d.cleanup()
            peer.close()

    def test_wrong_certificate_is_refused(self):
        peer = Peer(tls_ctx=server_ctx(self.tmp, "bad"), auth=("relayuser", "s3cret-relay"))
        d = self.daemon(peer.port)
        try:
            d.add_user("alice@example.test", "alice-pw")
            data = message("must not leave", "zed@anywhere.test", b"s" * 100)
            self.assertEqual(submit(d, ["zed@anywhere.test"], data), {})
            rows = wait_until(lambda: [r for r in queue(d) if r["attempts"] >= 1], 30)
            self.assertTrue(rows, d.tail(40))
            self.assertIn("handshake", rows[0]["last_error"].lower())
            self.assertEqual(peer.messages, [])
            self.assertFalse(any(c.upper().startswith(("AUTH", "MAIL")) for c in peer.commands))
        finally:
            d.cleanup()
            peer.close()


# ---------------------------------------------------------------- crash safety
class CrashDuringDelivery(unittest.TestCase):
    def test_kill9_loses_nothing(self):
        peer = Peer(stall_data=4)
        dns = DnsResponder(mx={"remote.test": [(10, "mx.remote.test")]}, a={"mx.remote.test": ["127.0.0.1"]})
        d = Daemon(extra_toml=RELAY_BASE + f'dns_servers = ["127.0.0.1:{dns.port}"]\nmx_port = {peer.port}\n')
        try:
            d.add_user("alice@example.test", "alice-pw")
            data = message("crash", "bob@remote.test", b"c" * 20000)
            self.assertEqual(submit(d, ["bob@remote.test"], data), {})
            # Wait until the peer is holding the end of DATA, then kill refmaild.
            self.assertTrue(wait_until(lambda: any(c.upper() == "DATA" for c in peer.commands), 30), d.tail())
            time.sleep(0.5)
            d.kill9()
            peer.stall_data = 0
            d.start()
            msgs = peer.wait(2, timeout=40)  # the first (stalled) copy and the retry
            self.assertGreaterEqual(len(msgs), 1)
            self.assertTrue(all(strip_received(strip_received(m[2])[1])[1] == data for m in msgs))
            self.assertTrue(wait_until(lambda: not queue(d), 40), queue(d))
            with open(d.log_path, "rb") as f:
                self.assertIn(b"relay.possible_duplicate", f.read())
        finally:
            d.cleanup()
            peer.close()
            dns.close()


if __name__ == "__main__":
    main()

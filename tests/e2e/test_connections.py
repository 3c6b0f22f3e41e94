"""End-to-end: connection budgets and deadlines (hardening issue, item 6), against the
real refmaild with raw sockets from several loopback addresses (127.0.0.x; Linux routes
all of 127/8 to lo). A flood of silent connections on one listener no longer takes the
others' slots and is shed (the flooding address first) for a newcomer; connections
doing something are not shed; a client dripping bytes cannot hold a command, a
transaction or a session past its deadline."""
import base64, http.client, json, os, socket, time, unittest
from harness import Daemon, main


def connect(port, src="127.0.0.1", timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def read_reply(s):
    """One SMTP reply (all its lines) as text, or "" when the server closed."""
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            return data.decode(errors="replace")
        data += chunk
        lines = data.split(b"\r\n")
        if len(lines) > 1 and len(lines[-2]) >= 4 and lines[-2][3:4] == b" ":
            return data.decode(errors="replace")


def closed_with(s, timeout):
    """Everything the server sends until it closes (or `timeout` passes)."""
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        return data.decode(errors="replace") + "<still open>"
    except ConnectionResetError:
        pass
    return data.decode(errors="replace")


class Budgets(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon("[limits]\nconnections = 40\nmx_connections = 5\nhttp_connections = 4\n"
                       "connections_per_ip = 20\n")
        cls.d.add_user("alice@example.test", "alice password 1")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def flood(self, port, src, n, smtp=True):
        socks = []
        for _ in range(n):
            s = connect(port, src)
            if smtp:
                self.assertTrue(read_reply(s).startswith("220"))
            socks.append(s)
        return socks

    def test_silent_flood_is_shed_for_a_newcomer_and_spares_http(self):
        flood = self.flood(self.d.ports["smtp"], "127.0.0.2", 5)
        try:
            # The MX budget is full of silent connections: the web is untouched...
            web = connect(self.d.ports["http"], "127.0.0.1")
            web.sendall(b"GET /.well-known/jmap HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            self.assertIn(b"HTTP/1.1 401", web.recv(4096))
            web.close()
            # ...and a mail server arriving on the MX port gets in; one silent one goes.
            legit = connect(self.d.ports["smtp"], "127.0.0.3")
            self.assertTrue(read_reply(legit).startswith("220"))
            legit.sendall(b"EHLO legit.test\r\n")
            self.assertTrue(read_reply(legit).startswith("250"))
            goodbyes = []
            for s in flood:
                s.settimeout(0.5)
                try:
                    goodbyes.append(s.recv(4096).decode())
                except socket.timeout:
                    pass
            shed = [g for g in goodbyes if g.startswith("421 4.3.2")]
            self.assertEqual(len(shed), 1, goodbyes)
            legit.sendall(b"QUIT\r\n")
            self.assertTrue(read_reply(legit).startswith("221"))
            legit.close()
        finally:
            for s in flood:
                s.close()

    def test_connections_in_a_transaction_are_not_shed(self):
        busy = []
        try:
            for _ in range(5):
                s = connect(self.d.ports["smtp"], "127.0.0.4")
                read_reply(s)
                s.sendall(b"EHLO a.test\r\n")
                read_reply(s)
                s.sendall(b"MAIL FROM:<x@outside.test>\r\n")
                self.assertTrue(read_reply(s).startswith("250"))
                s.sendall(b"RCPT TO:<alice@example.test>\r\n")
                self.assertTrue(read_reply(s).startswith("250"))
                busy.append(s)
            time.sleep(0.2)
            late = connect(self.d.ports["smtp"], "127.0.0.5")
            self.assertTrue(read_reply(late).startswith("421 4.7.0"), "a full budget of busy sessions refuses")
            late.close()
            for s in busy:  # none of them was shed
                s.sendall(b"NOOP\r\n")
                self.assertTrue(read_reply(s).startswith("250"))
        finally:
            for s in busy:
                s.close()
        self.assertIn("listener limit", self.d.tail(200))

    def test_silent_http_connections_are_shed_for_a_request(self):
        silent = self.flood(self.d.ports["http"], "127.0.0.6", 4, smtp=False)
        try:
            time.sleep(0.2)
            web = connect(self.d.ports["http"], "127.0.0.1")
            web.sendall(b"GET /.well-known/jmap HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            self.assertIn(b"HTTP/1.1 401", web.recv(4096))
            web.close()
            closed = 0
            for s in silent:
                if closed_with(s, 0.5) != "<still open>":
                    closed += 1
            self.assertEqual(closed, 1)
        finally:
            for s in silent:
                s.close()

    def test_keep_alive_downloads_do_not_wait_for_delayed_acks(self):
        # Without TCP_NODELAY each download on a kept-alive connection waited ~40 ms
        # (Nagle's algorithm against the client's delayed ACK) for its last segment.
        auth = "Basic " + base64.b64encode(b"alice@example.test:alice password 1").decode()
        conn = http.client.HTTPConnection("127.0.0.1", self.d.ports["http"], timeout=30)
        conn.request("GET", "/.well-known/jmap", headers={"Authorization": auth})
        r = conn.getresponse()
        account = json.loads(r.read())["primaryAccounts"]["urn:ietf:params:jmap:mail"]
        conn.request("POST", f"/jmap/upload/{account}/", body=os.urandom(150_000),
                     headers={"Authorization": auth, "Content-Type": "application/octet-stream"})
        r = conn.getresponse()
        blob = json.loads(r.read())["blobId"]
        slow = []
        for _ in range(20):
            t = time.monotonic()
            conn.request("GET", f"/jmap/download/{account}/{blob}/f.bin", headers={"Authorization": auth})
            r = conn.getresponse()
            self.assertEqual(len(r.read()), 150_000)
            if time.monotonic() - t >= 0.035:
                slow.append(time.monotonic() - t)
        conn.close()
        # A loaded machine may stall a few; Nagle stalls every one.
        self.assertLess(len(slow), 10, slow)


class Deadlines(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon("[limits]\nread_timeout = 2\ntransaction_timeout = 4\nsession_timeout = 6\n")
        cls.d.add_user("alice@example.test", "alice password 1")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def drip(self, s, data, every, limit):
        """Sends `data` one byte every `every` s until the server closes; returns the
        seconds it took and what the server said."""
        start = time.monotonic()
        said = b""
        s.settimeout(every)
        for b in data:
            if time.monotonic() - start > limit:
                break
            try:
                s.sendall(bytes([b]))
            except (BrokenPipeError, ConnectionResetError):
                break
            try:
                chunk = s.recv(4096)
                if not chunk:
                    break
                said += chunk
            except socket.timeout:
                pass
        return time.monotonic() - start, said.decode(errors="replace")

    def test_a_command_dripped_byte_by_byte_times_out(self):
        s = connect(self.d.ports["smtp"])
        read_reply(s)
        took, said = self.drip(s, b"EHLO " + b"x" * 200, 0.5, 15)
        s.close()
        self.assertIn("421 4.4.2", said)
        self.assertLess(took, 5, "the command deadline counts from our last reply, not the last byte")

    def test_a_transaction_paced_by_the_client_times_out_and_stores_nothing(self):
        before = self.d.stats()["logical_bytes"]
        s = connect(self.d.ports["smtp"])
        read_reply(s)
        for cmd, code in ((b"EHLO a.test", "250"), (b"MAIL FROM:<x@outside.test>", "250"),
                          (b"RCPT TO:<alice@example.test>", "250"), (b"DATA", "354")):
            s.sendall(cmd + b"\r\n")
            self.assertTrue(read_reply(s).startswith(code))
        start = time.monotonic()
        said = ""
        s.settimeout(0.5)
        while time.monotonic() - start < 15:
            try:
                s.sendall(b"Subject: slow\r\n")  # a content line every 0.5 s: each read is on time
                chunk = s.recv(4096)
                if not chunk:
                    break
                said += chunk.decode(errors="replace")
            except socket.timeout:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
        took = time.monotonic() - start
        s.close()
        self.assertIn("421 4.4.2", said)
        self.assertLess(took, 7)
        self.assertEqual(self.d.stats()["logical_bytes"], before)

    def test_a_session_of_timely_commands_ends_at_its_deadline(self):
        s = connect(self.d.ports["smtp"])
        read_reply(s)
        start = time.monotonic()
        said = ""
        while time.monotonic() - start < 15:
            try:
                s.sendall(b"NOOP\r\n")
                r = read_reply(s)
            except (BrokenPipeError, ConnectionResetError):
                break
            said += r
            if not r or r.startswith("421"):
                break
            time.sleep(0.5)
        took = time.monotonic() - start
        s.close()
        self.assertIn("421 4.4.2", said)
        self.assertLess(took, 9)
        self.assertGreater(took, 4)

    def test_a_large_upload_may_take_longer_than_one_read_deadline(self):
        # 3 MiB paced over ~3 s with read_timeout = 2: each read is on time, and the
        # whole body's deadline grows with its declared size.
        auth = base64.b64encode(b"alice@example.test:alice password 1").decode()
        web = connect(self.d.ports["http"])
        web.sendall(b"GET /.well-known/jmap HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " + auth.encode() +
                    b"\r\n\r\n")
        head, _, body = read_http(web)
        self.assertIn("200", head)
        account = json.loads(body)["primaryAccounts"]["urn:ietf:params:jmap:mail"]
        size = 3 << 20
        web.sendall(f"POST /jmap/upload/{account}/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\n"
                    f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n".encode())
        chunk = os.urandom(size // 12)
        for _ in range(12):
            web.sendall(chunk)
            time.sleep(0.25)
        head, _, body = read_http(web)
        web.close()
        self.assertIn("201", head, body[:300])
        self.assertEqual(json.loads(body)["size"], size)


def read_http(s):
    """One HTTP/1.1 response with a Content-Length: (status line + headers, headers, body)."""
    data = b""
    s.settimeout(30)
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head.split(b"\r\n")[0].decode(), head.decode(), rest.decode(errors="replace")


if __name__ == "__main__":
    main()

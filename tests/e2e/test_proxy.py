"""End-to-end: refmaild behind a reverse proxy on the same host ([proxy], issue #13
item 15). A trusted proxy's X-Forwarded-For names the HTTP client, whose requests then
get no loopback privilege (/metrics, Basic auth without TLS) and whose password
failures count against its own address; the same header from an untrusted peer is
ignored. On SMTP listeners with proxy_protocol, a trusted peer's PROXY v2 header names
the client: Received:, the password throttle and the per-IP limit use it, and
plain_auth_on_loopback no longer applies; a malformed header closes that connection
only. Untrusted loopback sources are 127.0.0.x addresses other than the trusted one
(Linux routes all of 127/8 to lo)."""
import base64, http.client, json, smtplib, socket, ssl, struct, unittest, urllib.parse
from harness import Daemon, closed_udp_port, main

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def proxy_v2(src=None, sport=4242, dst="127.0.0.1", dport=25):
    """A PROXY v2 header as HAProxy sends it: PROXY TCP4 src -> dst, or LOCAL without src."""
    if src is None:
        return SIG + bytes([0x20, 0x00, 0, 0])
    block = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack(">HH", sport, dport)
    return SIG + bytes([0x21, 0x11]) + struct.pack(">H", len(block)) + block


class ProxiedSMTP(smtplib.SMTP):
    """smtplib over a connection that opens with `header` (what a proxy would send)."""

    def __init__(self, port, header, source="127.0.0.1"):
        self.header = header
        super().__init__("127.0.0.1", port, timeout=30, source_address=(source, 0))

    def _get_socket(self, host, port, timeout):
        s = socket.create_connection((host, port), timeout, self.source_address)
        s.sendall(self.header)
        return s


def no_verify():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def http_get(d, path, source="127.0.0.1", headers=None):
    c = http.client.HTTPConnection("127.0.0.1", d.ports["http"], timeout=30, source_address=(source, 0))
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def log_text(d):
    with open(d.log_path, "rb") as f:
        return f.read().decode(errors="replace")


class HttpForwardedFor(unittest.TestCase):
    """trusted = 127.0.0.2: requests from 127.0.0.2 come through a proxy; 127.0.0.1 is direct."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(extra_toml='[proxy]\ntrusted = ["127.0.0.2"]\n')
        cls.d.add_user("admin2@example.test", "admin2-pw")
        cls.d.add_user("carol@example.test", "carol-pw")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_a_proxied_request_is_not_loopback(self):
        xff = {"X-Forwarded-For": "203.0.113.9"}
        st, _ = http_get(self.d, "/metrics", "127.0.0.2", xff)
        self.assertIn(st, (401, 403))
        # Without the header, the proxy's own address is still not loopback (it may
        # simply have forgotten to send it).
        st, _ = http_get(self.d, "/metrics", "127.0.0.2")
        self.assertIn(st, (401, 403))
        # Basic over plain HTTP through the proxy: refused (the client is not on loopback).
        st, body = http_get(self.d, "/.well-known/jmap", "127.0.0.2",
                            {**xff, "Authorization": basic("carol@example.test", "carol-pw")})
        self.assertEqual(st, 403, body)
        self.assertIn(b"TLS", body)
        # The proxy says the client used https: Basic works and counts per client.
        st, body = http_get(self.d, "/.well-known/jmap", "127.0.0.2",
                            {**xff, "X-Forwarded-Proto": "https",
                             "Authorization": basic("carol@example.test", "carol-pw")})
        self.assertEqual(st, 200, body)

    def test_password_failures_count_against_the_forwarded_client(self):
        for client in ("198.51.100.21", "198.51.100.22"):
            st, _ = http_get(self.d, "/.well-known/jmap", "127.0.0.2",
                             {"X-Forwarded-For": f"192.0.2.250, {client}", "X-Forwarded-Proto": "https",
                              "Authorization": basic("carol@example.test", "wrong")})
            self.assertEqual(st, 401)
        log = log_text(self.d)
        self.assertIn("auth.failure protocol=http peer=198.51.100.21 ", log)
        self.assertIn("auth.failure protocol=http peer=198.51.100.22 ", log)
        self.assertNotIn("peer=192.0.2.250", log)  # written by the client, never believed

    def test_b_the_header_from_an_untrusted_peer_is_ignored(self):
        hdrs = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
        st, body = http_get(self.d, "/metrics", "127.0.0.1", hdrs)
        self.assertEqual(st, 200, body)  # loopback, as before: the header changes nothing
        st, _ = http_get(self.d, "/.well-known/jmap", "127.0.0.3",
                         {**hdrs, "Authorization": basic("carol@example.test", "nope")})
        self.assertEqual(st, 401)
        self.assertIn("auth.failure protocol=http peer=127.0.0.3 ", log_text(self.d))


class SmtpProxyProtocol(unittest.TestCase):
    """trusted = 127.0.0.1 with PROXY v2 on smtp and submission; 127.0.0.3 is direct."""

    @classmethod
    def setUpClass(cls):
        # The carried clients are not loopback, so [auth] checks their mail: DNS fails at
        # once (temperror), never through the machine's resolver.
        cls.d = Daemon(extra_toml='[proxy]\ntrusted = ["127.0.0.1"]\nproxy_protocol = ["smtp", "submission"]\n'
                                  "[smtp]\nplain_auth_on_loopback = true\n[limits]\nconnections_per_ip = 2\n"
                                  f'[relay]\ndns_servers = ["127.0.0.1:{closed_udp_port()}"]\n')
        cls.d.add_user("bob@example.test", "bob-pw")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def raw_message(self, subject):
        """The stored bytes of bob's message with this subject (JMAP from a direct loopback peer)."""
        def req(method, path, body=None):
            c = http.client.HTTPConnection("127.0.0.1", self.d.ports["http"], timeout=30,
                                           source_address=("127.0.0.3", 0))
            try:
                hdrs = {"Authorization": basic("bob@example.test", "bob-pw"), "Content-Type": "application/json"}
                c.request(method, path, body=body, headers=hdrs)
                r = c.getresponse()
                data = r.read()
                self.assertEqual(r.status, 200, data[:300])
                return data
            finally:
                c.close()
        session = json.loads(req("GET", "/.well-known/jmap"))
        acct = session["primaryAccounts"]["urn:ietf:params:jmap:mail"]
        calls = {"using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"], "methodCalls": [
            ["Email/query", {"accountId": acct, "filter": {"subject": subject}}, "q"],
            ["Email/get", {"accountId": acct, "properties": ["blobId"],
                           "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"}}, "g"]]}
        got = json.loads(req("POST", "/jmap/api", json.dumps(calls).encode()))["methodResponses"][1][1]["list"]
        self.assertEqual(len(got), 1, got)
        url = (session["downloadUrl"].replace("{accountId}", acct).replace("{blobId}", got[0]["blobId"])
               .replace("{name}", "m.eml").replace("{type}", urllib.parse.quote("message/rfc822", safe="")))
        return req("GET", urllib.parse.urlparse(url).path if url.startswith("http") else url)

    def test_c_received_names_the_carried_client(self):
        s = ProxiedSMTP(self.d.ports["smtp"], proxy_v2("203.0.113.9"))
        try:
            s.ehlo("client.example")
            s.sendmail("someone@outside.test", ["bob@example.test"],
                       b"From: someone@outside.test\r\nTo: bob@example.test\r\nSubject: proxied-1\r\n\r\nhi\r\n")
        finally:
            s.quit()
        raw = self.raw_message("proxied-1")
        # The carried client's mail was checked ([auth]): our Authentication-Results on top,
        # then the trace line naming that client.
        self.assertTrue(raw.startswith(b"Authentication-Results: mx.example.test;\r\n\t"
                                       b"iprev=temperror policy.iprev=203.0.113.9;\r\n\tspf=temperror"), raw[:400])
        received = raw[raw.index(b"\r\nReceived: ") + 2:].split(b"\r\n")[0]
        self.assertEqual(received, b"Received: from client.example ([203.0.113.9])", raw[:400])
        self.assertNotIn(b"127.0.0.1", raw.split(b"\r\n\r\n")[0])
        self.assertIn("smtp.proxied listener=mx peer=203.0.113.9 via=127.0.0.1", log_text(self.d))

    def test_c_no_plain_auth_for_proxied_clients(self):
        # Direct from an untrusted loopback address: AUTH without TLS, as configured.
        s = smtplib.SMTP("127.0.0.1", self.d.ports["submission"], timeout=30, source_address=("127.0.0.3", 0))
        try:
            s.ehlo("direct.test")
            self.assertTrue(s.has_extn("auth"))
            s.login("bob@example.test", "bob-pw")
        finally:
            s.quit()
        # The same from a client behind the proxy (and from the proxy's own LOCAL check):
        # AUTH needs TLS.
        for header in (proxy_v2("203.0.113.9", dport=587), proxy_v2()):
            s = ProxiedSMTP(self.d.ports["submission"], header)
            try:
                s.ehlo("proxied.test")
                self.assertFalse(s.has_extn("auth"), header)
                code, _ = s.docmd("AUTH", "PLAIN " + base64.b64encode(b"\0bob@example.test\0bob-pw").decode())
                self.assertGreaterEqual(code, 500)
                # After STARTTLS it works, and a failure counts against the client.
                s.starttls(context=no_verify())
                s.ehlo("proxied.test")
                with self.assertRaises(smtplib.SMTPAuthenticationError):
                    s.login("bob@example.test", "wrong")
                s.login("bob@example.test", "bob-pw")
            finally:
                s.quit()
        log = log_text(self.d)
        self.assertIn("auth.failure protocol=smtp peer=203.0.113.9 ", log)
        self.assertIn("auth.failure protocol=smtp peer=127.0.0.1 ", log)  # the LOCAL one

    def test_per_ip_limit_counts_the_carried_client(self):
        def greet(header):
            s = socket.create_connection(("127.0.0.1", self.d.ports["smtp"]), 30)
            s.sendall(header)
            return s, s.recv(512)
        held = []
        try:
            for _ in range(2):
                s, g = greet(proxy_v2("198.51.100.7"))
                held.append(s)
                self.assertTrue(g.startswith(b"220"), g)
            s, g = greet(proxy_v2("198.51.100.7"))
            held.append(s)
            self.assertTrue(g.startswith(b"421"), g)  # limit 2 for that client
            # Other clients through the same proxy (more than 2 connections from 127.0.0.1).
            for i in range(2):
                s, g = greet(proxy_v2(f"198.51.100.{10 + i}"))
                held.append(s)
                self.assertTrue(g.startswith(b"220"), g)
        finally:
            for s in held:
                s.close()

    def test_d_malformed_header_closes_only_that_connection(self):
        bad = [
            b"EHLO no-header.test\r\n",                                     # no header at all
            SIG + bytes([0x11, 0x11, 0, 12]) + bytes(12),                   # version 1
            SIG + bytes([0x21, 0x31, 0, 216]) + bytes(216),                 # AF_UNIX
            SIG + bytes([0x21, 0x11, 0, 14]) + bytes(12) + b"\x01\x00",     # cut TLV
            b"PROXY TCP4 203.0.113.9 127.0.0.1 4242 25\r\n",                 # v1 text
        ]
        for b in bad:
            s = socket.create_connection(("127.0.0.1", self.d.ports["smtp"]), 30)
            try:
                s.sendall(b)
                s.settimeout(15)
                try:
                    got = s.recv(512)
                except ConnectionResetError:  # closed with our bytes unread
                    got = b""
                self.assertEqual(got, b"", b)  # closed, no greeting
            finally:
                s.close()
        self.assertIn('proxy.bad_header listener=mx via=127.0.0.1 error="not a PROXY protocol v2 header"',
                      log_text(self.d))
        # Still serving: a good header, and a direct client.
        s = ProxiedSMTP(self.d.ports["smtp"], proxy_v2("203.0.113.10"))
        self.assertEqual(s.noop()[0], 250)
        s.quit()
        s = smtplib.SMTP("127.0.0.1", self.d.ports["smtp"], timeout=30, source_address=("127.0.0.3", 0))
        self.assertEqual(s.noop()[0], 250)
        s.quit()

    def test_untrusted_peer_header_is_not_believed(self):
        # From 127.0.0.3 the listener is direct: the greeting comes unasked, and a header
        # sent anyway is SMTP input (errors), never an address.
        s = socket.create_connection(("127.0.0.1", self.d.ports["smtp"]), 30, source_address=("127.0.0.3", 0))
        try:
            self.assertTrue(s.recv(512).startswith(b"220"))
            s.sendall(proxy_v2("203.0.113.77") + b"\r\nQUIT\r\n")
            s.settimeout(10)
            replies = b""
            while b"221" not in replies:
                chunk = s.recv(4096)
                if not chunk:
                    break
                replies += chunk
            self.assertRegex(replies, rb"(?m)^5\d\d ")  # the header's bytes were refused as commands
        finally:
            s.close()
        log = log_text(self.d)
        self.assertIn("smtp.connect listener=mx peer=127.0.0.3", log)
        self.assertNotIn("via=127.0.0.3", log)


if __name__ == "__main__":
    main()

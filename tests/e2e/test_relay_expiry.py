"""End-to-end: relay edge cases beyond test_relay.py (whose DNS responder, peer and helpers
are imported, not copied).
- relay.max_age: a row whose peer keeps answering 4xx is bounced once it is older than
  max_age (4.4.7, the peer's last reply quoted) into the sender's INBOX and leaves the queue
  (max_age = 8 s here, retried every 2 s).
- relay.possible_duplicate appears only when a delivery may have reached the peer: a queue
  filled while the destination was unreachable, then a restart and `queue retry-all`,
  delivers every message exactly once and logs no duplicate warning.
- Connection reuse and the DNS cache: consecutive rows to one MX go over one connection
  (RSET between messages, one EHLO), the domain's MX is looked up once, and the idle
  connection is closed after the idle limit (5 s).
- A message larger than the relay's 1 MiB stream pieces, with many lines starting with
  '.', arrives byte-identical (streaming and dot-stuffing across piece boundaries)."""
import random, time, unittest

import test_relay as relay
from harness import Daemon, JmapClient, main, free_port


class MaxAge(unittest.TestCase):
    def test_expired_row_bounces_with_the_reason(self):
        peer = relay.Peer()
        dns = relay.DnsResponder(mx={"remote.test": [(10, "mx.remote.test")]}, a={"mx.remote.test": ["127.0.0.1"]})
        d = Daemon(extra_toml="[relay]\nretry_schedule = [2]\ntimeout = 10\nmax_age = 8\n"
                              f'dns_servers = ["127.0.0.1:{dns.port}"]\nmx_port = {peer.port}\n')
        try:
            d.add_user("alice@example.test", "alice-pw-1")
            data = relay.message("will expire", "always451@remote.test", b"e" * 2000)
            self.assertEqual(relay.submit(d, ["always451@remote.test"], data, password="alice-pw-1"), {})
            # Deferred (451) and still queued before max_age.
            rows = relay.wait_until(lambda: [r for r in relay.queue(d) if r["attempts"] >= 1], 30)
            self.assertTrue(rows, d.tail(30))
            self.assertIn("451", rows[0]["last_error"])
            self.assertEqual(relay.admin(d, "GET", "rows/alice@example.test")[1]["rows"], [])
            # After max_age: bounced, row gone.
            self.assertTrue(relay.wait_until(lambda: not relay.queue(d), 100), relay.queue(d))
            inbox = relay.wait_until(lambda: relay.admin(d, "GET", "rows/alice@example.test")[1]["rows"], 20)
            self.assertEqual(len(inbox), 1, d.tail(30))
            self.assertEqual(peer.messages, [])
            with open(d.log_path, "rb") as f:
                log = f.read().decode(errors="replace")
            self.assertIn("relay.bounce", log)
            self.assertIn("4.4.7", log)
            # The bounce itself (RFC 3464): failed, 4.4.7, the peer's last answer quoted.
            c = JmapClient(d.ports["http"], "alice@example.test", "alice-pw-1")
            # (the submitted original may also be there, in Sent)
            mail = [m for m in c.latest(["blobId", "subject"]) if m["subject"] != "will expire"]
            self.assertEqual(len(mail), 1, mail)
            st, raw, _ = c.request("GET", c.download_path(mail[0]["blobId"], "bounce.eml", "message/rfc822"))
            self.assertEqual(st, 200)
            text = raw.decode(errors="replace")
            self.assertIn("multipart/report", text)
            self.assertIn("Action: failed", text)
            self.assertIn("Status: 4.4.7", text)
            self.assertIn("still not ready", text)
            self.assertIn("Subject: will expire", text)  # the original headers
        finally:
            d.cleanup()
            peer.close()
            dns.close()


class NoSpuriousDuplicate(unittest.TestCase):
    def test_restart_and_retry_all_after_unreachable_destination(self):
        n = 24
        closed = free_port()
        peer = relay.Peer()
        base = "[relay]\nretry_schedule = [3600]\ntimeout = 10\nconcurrency = 8\nper_domain_concurrency = 8\n" \
               "smarthost_tls = \"none\"\nsmarthost_auth = \"none\"\n"
        d = Daemon(extra_toml=base + f'smarthost = "127.0.0.1:{closed}"\n')
        try:
            d.add_user("alice@example.test", "alice-pw-1")
            for i in range(n):
                data = relay.message(f"dup check {i}", "bob@remote.test", b"q" * 20000)
                self.assertEqual(relay.submit(d, ["bob@remote.test"], data, password="alice-pw-1"), {})
            rows = relay.wait_until(lambda: [r for r in relay.queue(d) if r["attempts"] >= 1] == relay.queue(d)
                                    and len(relay.queue(d)) == n, 30)
            self.assertTrue(rows, d.tail(30))
            d.stop()
            with open(d.config) as f:
                cfg = f.read().replace(f'smarthost = "127.0.0.1:{closed}"', f'smarthost = "127.0.0.1:{peer.port}"')
            with open(d.config, "w") as f:
                f.write(cfg)
            d.start()
            d.ctl("queue", "retry-all")
            msgs = peer.wait(n, timeout=60)
            self.assertEqual(len(msgs), n, d.tail(30))
            self.assertTrue(relay.wait_until(lambda: not relay.queue(d), 30), relay.queue(d))
            time.sleep(0.5)
            self.assertEqual(len(peer.messages), n)  # each exactly once
            subjects = sorted(m[2].split(b"Subject: ")[1].split(b"\r\n")[0] for m in peer.messages)
            self.assertEqual(subjects, sorted(f"dup check {i}".encode() for i in range(n)))
            with open(d.log_path, "rb") as f:
                log = f.read()
            self.assertEqual(log.count(b" relay.delivered "), n)
            self.assertNotIn(b"relay.possible_duplicate", log)
        finally:
            d.cleanup()
            peer.close()


class ConnectionReuse(unittest.TestCase):
    def test_one_connection_one_lookup_for_consecutive_rows(self):
        n = 4
        peer = relay.Peer()
        dns = relay.DnsResponder(mx={"remote.test": [(10, "mx.remote.test")]}, a={"mx.remote.test": ["127.0.0.1"]})
        d = Daemon(extra_toml=relay.RELAY_BASE + "per_domain_concurrency = 1\n"
                              f'dns_servers = ["127.0.0.1:{dns.port}"]\nmx_port = {peer.port}\n')
        try:
            d.add_user("alice@example.test", "alice-pw-1")
            sent = [relay.message(f"reuse {i}", f"r{i}@remote.test", bytes([65 + i]) * 3000) for i in range(n)]
            for i, data in enumerate(sent):
                self.assertEqual(relay.submit(d, [f"r{i}@remote.test"], data, password="alice-pw-1"), {})
            msgs = peer.wait(n, timeout=30)
            self.assertEqual(len(msgs), n, d.tail(30))
            self.assertEqual(sorted(relay.strip_received(relay.strip_received(m[2])[1])[1] for m in msgs), sorted(sent))
            cmds = [c.upper() for c in peer.commands]
            self.assertEqual(peer.connections, 1, cmds)
            self.assertEqual(sum(c.startswith("EHLO") for c in cmds), 1)
            self.assertEqual(sum(c == "RSET" for c in cmds), n - 1)
            self.assertEqual(sum(c == "QUIT" for c in cmds), 0)  # still open, idle
            self.assertEqual(sum(1 for q in dns.queries if q == ("remote.test", 15)), 1)  # MX cached (TTL 60)
            self.assertTrue(relay.wait_until(lambda: not relay.queue(d), 10), relay.queue(d))
            # Closed after the idle limit (5 s), well before the next delivery would need it.
            self.assertTrue(relay.wait_until(lambda: peer.closed == 1, 12), (peer.connections, peer.closed))
        finally:
            d.cleanup()
            peer.close()
            dns.close()


class LargeMessage(unittest.TestCase):
    def test_multi_chunk_message_with_dot_lines_arrives_byte_identical(self):
        # Streamed in 1 MiB pieces: dot-stuffing and the joiner must be exact across them.
        peer = relay.Peer()
        dns = relay.DnsResponder(mx={"remote.test": [(10, "mx.remote.test")]}, a={"mx.remote.test": ["127.0.0.1"]})
        d = Daemon(extra_toml=relay.RELAY_BASE + f'dns_servers = ["127.0.0.1:{dns.port}"]\nmx_port = {peer.port}\n')
        try:
            d.add_user("alice@example.test", "alice-pw-1")
            data = relay.message("large", "bob@remote.test", random.Random(7).randbytes(3 * 1024 * 1024 + 333))
            text = "".join(f".dot line {i}\r\n..two dots\r\nplain {i}\r\n" for i in range(40000))
            data = data.replace(b"See attached.\r\n", b"See attached.\r\n" + text.encode())
            self.assertGreater(len(data), 5 * 1024 * 1024)
            self.assertEqual(relay.submit(d, ["bob@remote.test"], data, password="alice-pw-1"), {})
            msgs = peer.wait(1, timeout=60)
            self.assertEqual(len(msgs), 1, d.tail(30))
            _, stored = relay.strip_received(msgs[0][2])
            _, original = relay.strip_received(stored)
            self.assertTrue(original == data, "relayed bytes differ from the stored message")
            self.assertTrue(relay.wait_until(lambda: not relay.queue(d), 20), relay.queue(d))
        finally:
            d.cleanup()
            peer.close()
            dns.close()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Import benchmark (issue 9): a private Dovecot on 127.0.0.1 (Debian's dovecot-imapd +
dovecot-lmtpd, started exactly as tests/e2e/test_import.py starts it) holds the shared
synthetic workload, delivered with its LMTP server (the LDA's network form); refmaild
copies the mailbox with `refmailctl import run SOURCE USER` (the initial migration path:
UID SEARCH, then one UID FETCH per batch). Bounded in count and time; loopback only;
every process started here is stopped by PID.

  REFMAIL_BUILD_DIR=../build-rel python3 tools/bench/import_bench.py \\
      --workload /work/bench-work/synth --messages 2000 --idle-seconds 60 --poll-interval 5 --json out.json

Reported:
  * throughput: messages/s and MB/s from the `import run` command until the import queue is
    empty and the target INBOX holds every message (MB = bytes as fetched from Dovecot,
    refmail_import_bytes_total), refmaild's CPU ms per message (/proc/<pid>/stat), physical
    bytes refmail stored and the load average at the start;
  * the network cost of staying in sync while nothing arrives: refmaild reaches Dovecot
    through a counting TCP relay on loopback, so every byte either way is counted. With
    the notification trigger (no IDLE) refmail should send and receive 0 bytes over
    --idle-seconds. For comparison a polling sync really logs in through the same relay and
    sends one `STATUS mailbox (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)` per mailbox every
    --poll-interval seconds over the same span; its bytes (both ways) are counted the same way.
"""
import argparse, json, os, re, shutil, smtplib, socket, sys, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "e2e"))
from harness import Daemon  # noqa: E402
from test_import import Dovecot, admin_get, import_toml, queue_empty, scrape  # noqa: E402

MAILBOXES = ["INBOX", "Sent", "Drafts", "Trash", "Archive"]  # what a polling sync watches per user


class CountingRelay:
    """127.0.0.1:port -> target: forwards TCP both ways and counts the bytes."""

    def __init__(self, target_port):
        self.target = target_port
        self.lock = threading.Lock()
        self.up = 0      # client -> server
        self.down = 0    # server -> client
        self.connections = 0
        self.per_peer = {}  # client port -> [up, down]
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, peer = self.sock.accept()
            except OSError:
                return
            s = socket.create_connection(("127.0.0.1", self.target))
            with self.lock:
                self.connections += 1
                self.per_peer[peer[1]] = [0, 0]
            threading.Thread(target=self.pump, args=(c, s, "up", peer[1]), daemon=True).start()
            threading.Thread(target=self.pump, args=(s, c, "down", peer[1]), daemon=True).start()

    def pump(self, a, b, direction, peer):
        try:
            while True:
                data = a.recv(262144)
                if not data:
                    break
                with self.lock:
                    setattr(self, direction, getattr(self, direction) + len(data))
                    self.per_peer[peer][0 if direction == "up" else 1] += len(data)
                b.sendall(data)
        except OSError:
            pass
        finally:
            for x in (a, b):
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def counts(self):
        with self.lock:
            return self.up, self.down, self.connections

    def peer_bytes(self, port):
        with self.lock:
            return sum(self.per_peer.get(port, [0, 0]))

    def close(self):
        self.sock.close()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_messages(workload, n):
    d = os.path.join(workload, "msgs")
    names = sorted(x for x in os.listdir(d) if x.endswith(".eml"))[:n]
    for name in names:
        with open(os.path.join(d, name), "rb") as f:
            yield f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def imap_line(f):
    line = f.readline()
    if not line:
        raise RuntimeError("IMAP connection closed")
    return line


def imap_command(sock, f, tag, cmd):
    sock.sendall(f"{tag} {cmd}\r\n".encode())
    while True:
        line = imap_line(f)
        if line.startswith(tag.encode() + b" "):
            if b" OK" not in line[:len(tag) + 4]:
                raise RuntimeError(f"{cmd!r}: {line!r}")
            return


def imap_login(port, user):
    """One persistent IMAP connection through the relay, logged in (socket, reader)."""
    s = socket.create_connection(("127.0.0.1", port))
    f = s.makefile("rb")
    imap_line(f)  # greeting
    imap_command(s, f, "L", f"LOGIN {user} pass")
    return s, f


def run(a):
    build = os.environ.get("REFMAIL_BUILD_DIR", "")
    result = {"messages": a.messages, "workload": a.workload, "build_dir": build}
    cache = ""
    if build and os.path.exists(os.path.join(build, "CMakeCache.txt")):
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            m = re.search(r"^CMAKE_BUILD_TYPE:STRING=(.*)$", f.read(), re.M)
            cache = m.group(1) if m else ""
    result["build_type"] = cache
    if cache != "Release":
        print(f"warning: build type is {cache!r}, not Release", file=sys.stderr)

    dc = Dovecot()
    relay = CountingRelay(dc.imap_port)
    d = None
    try:
        # Dovecot's mailboxes (the polling sync STATUSes each of them).
        m = dc.imap("alice")
        for box in MAILBOXES[1:]:
            m.create(box)
        m.logout()
        t = time.time()
        total = 0
        with smtplib.LMTP("127.0.0.1", dc.lmtp_port) as lmtp:
            for msg in load_messages(a.workload, a.messages):
                lmtp.sendmail("sender@outside.test", ["alice@legacy.test"], msg)
                total += len(msg)
        result["lmtp_delivery_s"] = round(time.time() - t, 2)
        result["workload_bytes"] = total
        print(f"delivered {a.messages} messages ({total / 1e6:.1f} MB) into Dovecot over LMTP in "
              f"{result['lmtp_delivery_s']} s", flush=True)

        d = Daemon(extra_toml=import_toml("legacy", relay.port, "alice", "alice@example.test", "pass",
                                          f"coalesce_window = 30\nbatch_size = {a.batch_size}\ntimeout = 120\n"))
        d.add_user("alice@example.test", "pw-alice-123456")
        sock = os.path.join(d.data, "refmaild.sock")
        phys0 = d.stats()["physical_bytes"]
        up0, down0, conn0 = relay.counts()
        result["load_at_start"] = open("/proc/loadavg").read().split()[:3]
        cpu0 = cpu_seconds(d.proc.pid)
        t0 = time.time()
        d.ctl("import", "run", "legacy", "alice")
        deadline = t0 + a.timeout
        while True:
            if queue_empty(sock):
                rows = len(admin_get(sock, "/admin/v1/rows/alice@example.test?mailbox=INBOX")[1]["rows"])
                if rows >= a.messages:
                    break
            if time.time() > deadline:
                raise RuntimeError("import did not finish in time\n" + d.tail(20))
            time.sleep(0.05)
        elapsed = time.time() - t0
        cpu = cpu_seconds(d.proc.pid) - cpu0
        metrics = scrape(d.ports["http"])
        fetched = metrics['refmail_import_bytes_total{source="legacy"}']
        imported = metrics['refmail_import_messages_total{source="legacy"}']
        stats = d.stats()
        up1, down1, conn1 = relay.counts()
        result.update({
            "import_s": round(elapsed, 3),
            "imported": int(imported),
            "rows": rows,
            "fetched_bytes": int(fetched),
            "msg_per_s": round(imported / elapsed, 1),
            "mb_per_s": round(fetched / 1e6 / elapsed, 1),
            "refmaild_cpu_ms_per_msg": round(cpu * 1000 / max(imported, 1), 2),
            "batches": int(metrics['refmail_import_batches_total{source="legacy"}']),
            "dedup_saved_bytes": int(metrics['refmail_import_dedup_saved_bytes_total{source="legacy"}']),
            "physical_bytes_added": stats["physical_bytes"] - phys0,
            "logical_bytes": stats["logical_bytes"],
            "import_wire_bytes": {"to_dovecot": up1 - up0, "from_dovecot": down1 - down0,
                                  "connections": conn1 - conn0},
        })
        print(f"import run: {int(imported)} messages, {fetched / 1e6:.1f} MB in {elapsed:.2f} s = "
              f"{result['msg_per_s']} msg/s, {result['mb_per_s']} MB/s; refmaild CPU "
              f"{result['refmaild_cpu_ms_per_msg']} ms/msg; physical +{result['physical_bytes_added'] / 1e6:.1f} MB "
              f"for {stats['logical_bytes'] / 1e6:.1f} MB logical", flush=True)

        # Nothing arrives for --idle-seconds: refmail (notification-driven, no IDLE) vs a
        # polling sync that STATUSes every mailbox every --poll-interval seconds. Both go
        # through the relay; the poller's bytes are those of its own connection (by client
        # port), refmail's are everything else the relay carried in the window.
        ps, pf = imap_login(relay.port, "alice")
        poller = ps.getsockname()[1]
        logins0 = dc.logins()
        up0, down0, conn0 = relay.counts()
        pb0 = relay.peer_bytes(poller)
        rounds = statuses = 0
        w0 = time.time()
        while time.time() - w0 < a.idle_seconds:
            for box in MAILBOXES:
                statuses += 1
                imap_command(ps, pf, f"S{statuses}", f'STATUS "{box}" (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)')
            rounds += 1
            nxt = w0 + rounds * a.poll_interval
            while time.time() < min(nxt, w0 + a.idle_seconds):
                time.sleep(min(0.2, max(0.0, nxt - time.time())))
        window = time.time() - w0
        up1, down1, conn1 = relay.counts()
        poll_bytes = relay.peer_bytes(poller) - pb0
        logins = dc.logins() - logins0
        imap_command(ps, pf, "Z", "LOGOUT")
        ps.close()
        per_status = poll_bytes / max(statuses, 1)
        result["idle"] = {
            "seconds": round(window, 1),
            "refmail_bytes": (up1 - up0) + (down1 - down0) - poll_bytes,
            "refmail_new_connections": conn1 - conn0,
            "dovecot_logins_in_window": logins,
            "poll_interval_s": a.poll_interval,
            "poll_mailboxes": len(MAILBOXES),
            "poll_status_commands": statuses,
            "poll_bytes": poll_bytes,
            "poll_bytes_per_status": round(per_status, 1),
            "poll_bytes_per_user_day_at_60s": round(per_status * len(MAILBOXES) * 1440),
        }
        print(f"idle {window:.0f} s: refmail {result['idle']['refmail_bytes']} bytes, "
              f"{conn1 - conn0} new connections, Dovecot logins {logins}; polling sync "
              f"({len(MAILBOXES)} mailboxes every {a.poll_interval:g} s): {statuses} STATUS, {poll_bytes} bytes "
              f"({per_status:.0f} bytes per STATUS round trip; one round a minute = "
              f"{result['idle']['poll_bytes_per_user_day_at_60s'] / 1e6:.2f} MB per user per day)", flush=True)
    finally:
        if d:
            d.cleanup()
        relay.close()
        dc.cleanup()
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workload", default="/work/bench-work/synth", help="gen_workload.py output (DIR/msgs/*.eml)")
    p.add_argument("--messages", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=200, help="import.batch_size (UIDs per UID FETCH)")
    p.add_argument("--idle-seconds", type=int, default=60)
    p.add_argument("--poll-interval", type=float, default=5.0)
    p.add_argument("--timeout", type=int, default=1800)
    p.add_argument("--json")
    a = p.parse_args()
    if os.geteuid() != 0 or not shutil.which("dovecot"):
        sys.exit("needs root and Debian's dovecot-imapd/dovecot-lmtpd")
    print(json.dumps(run(a), indent=1))


if __name__ == "__main__":
    main()

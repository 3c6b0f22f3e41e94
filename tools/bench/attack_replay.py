#!/usr/bin/env python3
"""Attack replay (issue 13, "Done when"): the hardening issue's attacks against the real
refmaild while a legitimate client sends and reads mail. Measures refmaild's peak memory,
the legitimate client's latency and errors, and the password guesser's rate.

Must never: talk to anything but loopback, run unbounded, or stop a process it did not
start. Every socket has a timeout; every worker stops at the deadline (its sockets are shut
down then); refmaild gets SIGTERM, then SIGKILL after 10 s, in a finally block.

  python3 tools/bench/attack_replay.py --build build --json out.json
  python3 tools/bench/attack_replay.py --build /work/main/build --duration 30 --attacks big,idle

refmaild runs from --build on free 127.0.0.1 ports in a temporary folder, at log level
"info", with its default limits plus `smtp.plain_auth_on_loopback` (AUTH without TLS from
127.0.0.0/8, so the clients need no TLS); --extra-toml adds config text (do not repeat a
[smtp] table). Users: legit@example.test and victim@example.test.

Each attack runs in its own process (so no attacker's Python threads slow the legitimate
client through the GIL), from its own loopback addresses (bound with socket.bind; Linux
routes all of 127.0.0.0/8):
  http   --http-attackers threads from 127.0.0.20+i: unauthenticated POSTs declaring
         63 MiB (Content-Length 66060288) to /jmap/upload/<victim>/ and /jmap/api, and a
         chunked POST to /jmap/api with no length; even threads stream the body as fast as
         the socket takes it, odd ones 4 KiB every 20 ms; each request ends at the answer
         or when the server closes. --http-pause seconds between requests per thread.
  big    --big-senders threads from 127.0.0.40+i: SMTP to the MX port, unauthenticated,
         MAIL FROM a foreign sender, RCPT victim@example.test, DATA of a --big-mb MB
         message (one base64 random attachment generated once; its first line is replaced
         per message so nothing deduplicates unless --big-same), again and again.
  idle   --idle connections spread over --idle-sources addresses 127.0.0.2.. (the default
         limits.connections_per_ip is 50), opened, greeted, then silent; every 2 s the
         closed ones are counted and reopened. Counts 220 vs 421 greetings.
  guess  --guessers threads from 127.0.0.12: AUTH PLAIN on submission with wrong passwords
         for legit@example.test, reconnecting when the server closes; counts replies (535
         = a password really checked, 454 = throttled/queue full) and their rate.
  legit  (always) from 127.0.0.1: every --legit-interval s, one SMTP submission session
         (connect, EHLO, AUTH PLAIN with the right password, MAIL, RCPT itself, DATA) and
         then one JMAP request (Email/query by a unique subject + Email/get) over a
         keep-alive HTTP connection with Basic auth: latency per operation and every error.
         It runs --baseline s alone first, then with the attacks.

refmaild inherits this script's environment, so an allocator experiment needs no rebuild:
  GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576 python3 tools/bench/attack_replay.py ...

A sampler reads VmRSS, VmHWM, RssAnon and RssFile from /proc/<refmaild>/status every
--sample-ms ms (and its open sockets every second) from the start to --tail s after the
attacks stop. At the end: /metrics counters and the log's event counts.

Goals (reported met / not met; the exit status does not depend on them): peak RSS under
256 MB (MiB = 2^20 B, MB = 10^6 B; the goal is read as 256 MiB), legitimate client with no
errors and p99 under 1 s. Exit 1 only on a harness failure (refmaild did not start or
exited, a worker crashed or did not report, the legitimate client's first round failed)."""
import argparse, base64, http.client, json, multiprocessing, os, re, select, shutil, socket, subprocess
import sys, threading, time, traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "e2e"))
import harness  # noqa: E402
from jmap_bench import BenchDaemon, loadavg, pct  # noqa: E402

LEGIT, LEGIT_PW = "legit@example.test", "legit-right-pw-1"
VICTIM, VICTIM_PW = "victim@example.test", "victim-pw-1"
USING = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"]
UPLOAD_63MIB = 63 * 1024 * 1024  # 66,060,288: the figure
MB, MIB = 1_000_000, 1024 * 1024
ATTACKS = ("http", "big", "idle", "guess")
# The legitimate client's operations; submit:auth and submit:commit are steps of submit
# (AUTH -> 235, end of data -> 250), read is one JMAP request (Email/query + Email/get).
LEGIT_OPS = ("submit", "submit:auth", "submit:commit", "read")


# ---------------------------------------------------------------- shared by the workers
class Stopper:
    """The deadline and every open socket of one worker process, so all can be shut down."""

    def __init__(self, end_at):
        self.end_at = end_at
        self.lock = threading.Lock()
        self.socks = set()

    def left(self):
        return self.end_at - time.time()

    def done(self):
        return time.time() >= self.end_at

    def connect(self, port, source, timeout):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.bind((source, 0))
            s.connect(("127.0.0.1", port))
        except OSError:
            s.close()
            raise
        with self.lock:
            self.socks.add(s)
        return s

    def adopt(self, s):
        with self.lock:
            self.socks.add(s)

    def close(self, s):
        with self.lock:
            self.socks.discard(s)
        try:
            s.close()
        except OSError:
            pass

    def watch(self):
        """A thread that shuts every socket down at the deadline (wakes blocked recv/send)."""
        def run():
            while not self.done():
                time.sleep(min(0.2, max(0.0, self.left())))
            with self.lock:
                socks = list(self.socks)
            for s in socks:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t


class Wire:
    """SMTP replies over a raw socket."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def reply(self):
        """(code, text) of one (possibly multi-line) reply; ConnectionError when closed."""
        lines = []
        while True:
            i = self.buf.find(b"\r\n")
            while i < 0:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed by server" + (f" after {self.buf[:80]!r}" if self.buf else ""))
                self.buf += chunk
                i = self.buf.find(b"\r\n")
            line, self.buf = self.buf[:i], self.buf[i + 2:]
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                break
        text = b"\n".join(lines).decode(errors="replace")
        if not text[:3].isdigit():
            raise ConnectionError("not an SMTP reply: " + text[:80])
        return int(text[:3]), text

    def command(self, line):
        self.sock.sendall(line.encode() + b"\r\n")
        return self.reply()


def smtp_open(stop, r, port, source, timeout, ehlo):
    """A greeted SMTP connection after EHLO: (socket, Wire, EHLO reply text), or None when the
    connection failed or was refused (counted in r["outcome"] / r["replies"]; try again)."""
    try:
        s = stop.connect(port, source, timeout)
    except OSError as e:
        count(r["outcome"], "connect_failed " + err_name(e))
        time.sleep(0.5)
        return None
    w = Wire(s)
    try:
        code, text = w.reply()
        count(r["replies"], f"greeting {code}")
        if code != 220:
            raise ConnectionError("refused")
        r["connections"] += 1
        return s, w, w.command("EHLO " + ehlo)[1]
    except OSError as e:
        count(r["outcome"], ("deadline " if stop.done() else "") + err_name(e))
        stop.close(s)
        time.sleep(0.1)
        return None


def count(d, key, n=1):
    d[key] = d.get(key, 0) + n


def err_name(e):
    return type(e).__name__ + (": " + str(e)[:120] if str(e) else "")


def run_worker(name, q, fn, *args):
    """Process entry: the worker's result (or its traceback) goes to the queue."""
    try:
        q.put((name, fn(*args), None))
    except BaseException:  # noqa: B902 — reported to the parent, which fails the run
        q.put((name, None, traceback.format_exc()))


def threads_run(stop, target, n, *args):
    """n threads running target(stop, i, *args) -> dict; returns their dicts."""
    out = [None] * n

    def one(i):
        try:
            out[i] = target(stop, i, *args)
        except BaseException:  # noqa: B902
            out[i] = {"crash": traceback.format_exc()}
    ts = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(max(1.0, stop.left() + 60))
    crashes = [o["crash"] for o in out if o and "crash" in o]
    if crashes or any(o is None for o in out):
        raise RuntimeError("worker thread failed or hung:\n" + "\n".join(crashes))
    return out


def merge(dicts):
    """Sums numbers (the maximum for keys ending in _max) and count dicts key by key."""
    total = {}
    for d in dicts:
        for k, v in d.items():
            if isinstance(v, dict):
                sub = total.setdefault(k, {})
                for kk, vv in v.items():
                    count(sub, kk, vv)
            elif k.endswith("_max"):
                total[k] = max(total.get(k, v), v)
            elif isinstance(v, (int, float)):
                total[k] = total.get(k, 0) + v
    return total


def readable(socks):
    """The sockets among socks with something to read (or closed); poll, so any fd number works."""
    p = select.poll()
    by_fd = {s.fileno(): s for s in socks}
    for fd in by_fd:
        p.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
    return [by_fd[fd] for fd, _ in p.poll(0)]


def wait_start(start_at):
    time.sleep(max(0.0, start_at - time.time()))


# ---------------------------------------------------------------- attack 1: large unauthenticated POSTs
def http_attack(port, account, n, pause, start_at, end_at):
    wait_start(start_at)
    stop = Stopper(end_at)
    stop.watch()
    t0 = time.time()
    res = merge(threads_run(stop, http_thread, n, port, account, pause))
    res["seconds"] = round(time.time() - t0, 2)
    return res


def http_thread(stop, i, port, account, pause):
    fast = i % 2 == 0
    source = f"127.0.0.{20 + i}"
    variants = [("upload", f"/jmap/upload/{account}/", True), ("api", "/jmap/api", True),
                ("api_chunked", "/jmap/api", False)]
    r = {"requests": 0, "bytes_sent": 0, "status": {}, "outcome": {}, "answer_ms_max": 0}
    k = 0
    while not stop.done():
        label, path, with_length = variants[k % len(variants)]
        k += 1
        try:
            s = stop.connect(port, source, 10)
        except OSError as e:
            count(r["outcome"], "connect_failed " + err_name(e))
            time.sleep(0.2)
            continue
        r["requests"] += 1
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                + (f"Content-Length: {UPLOAD_63MIB}\r\n" if with_length else "Transfer-Encoding: chunked\r\n")
                + "\r\n").encode()
        chunk = (256 * 1024) if fast else 4096
        t_req = time.time()
        sent, answer = 0, b""
        try:
            s.sendall(head)
            while sent < UPLOAD_63MIB and not stop.done():
                if readable([s]):
                    break  # the server answered (or closed) before the body was sent
                piece = b"x" * chunk
                s.sendall(piece if with_length else b"%x\r\n" % len(piece) + piece + b"\r\n")
                sent += len(piece)
                if not fast:
                    time.sleep(0.02)
            if sent >= UPLOAD_63MIB and not with_length:
                s.sendall(b"0\r\n\r\n")
            while b"\r\n" not in answer and not stop.done():
                piece = s.recv(4096)
                if not piece:
                    break
                answer += piece
        except OSError as e:  # reset or broken pipe: the server closed while we sent
            count(r["outcome"], "send_or_recv " + type(e).__name__)
            try:  # a status may still be readable
                s.settimeout(1)
                answer += s.recv(4096)
            except OSError:
                pass
        stop.close(s)
        r["bytes_sent"] += sent
        status = answer[9:12].decode(errors="replace") if answer.startswith(b"HTTP/") else (
            "deadline" if stop.done() else "closed without an answer")
        count(r["status"], f"{label} {status}")
        if status.isdigit():
            r["answer_ms_max"] = max(r["answer_ms_max"], round((time.time() - t_req) * 1000, 1))
        if pause:
            time.sleep(pause)
    return r


# ---------------------------------------------------------------- attack 2: large SMTP messages in parallel
def big_message(size_bytes):
    """(header template, first base64 line, rest) of a message of about size_bytes."""
    head = ("From: Big Sender <big@outside.test>\r\nTo: " + VICTIM + "\r\nSubject: big {n}\r\n"
            "Message-ID: <big-{n}@outside.test>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"bb\"\r\n\r\n--bb\r\nContent-Type: text/plain\r\n\r\n"
            "Here it is.\r\n--bb\r\nContent-Type: application/octet-stream; name=\"big.bin\"\r\n"
            "Content-Disposition: attachment; filename=\"big.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
    tail = b"\r\n--bb--\r\n"
    raw = (size_bytes - len(head) - len(tail) - 20) * 57 // 78
    b64 = base64.b64encode(os.urandom(raw - raw % 57))
    body = b"\r\n".join(b64[i:i + 76] for i in range(0, len(b64), 76)) + tail
    return head, body[:76], memoryview(body)[76:]


def big_attack(port, n, message, same, start_at, end_at):
    head, first, rest = message  # generated before the clock, inherited through fork
    wait_start(start_at)
    stop = Stopper(end_at)
    stop.watch()
    t0 = time.time()
    res = merge(threads_run(stop, big_thread, n, port, head, first, rest, same))
    res["seconds"] = round(time.time() - t0, 2)
    res["message_bytes"] = len(head) + len(first) + len(rest) + 10
    return res


def big_thread(stop, i, port, head, first, rest, same):
    source = f"127.0.0.{40 + i}"
    r = {"connections": 0, "messages_started": 0, "messages_complete": 0, "bytes_sent": 0,
         "replies": {}, "end_of_data_to_reply_ms_max": 0, "outcome": {}}
    seq = 0
    while not stop.done():
        opened = smtp_open(stop, r, port, source, 120, "big.outside.test")
        if opened is None:
            continue
        s, w, _ = opened
        try:
            while not stop.done():
                seq += 1
                n = f"{i}-{seq}-{os.getpid()}"
                hb = head.replace("{n}", n).encode()
                line = first if same else base64.b64encode(os.urandom(57))
                total = len(hb) + len(line) + len(rest)
                code, text = w.command(f"MAIL FROM:<big@outside.test> SIZE={total}")
                count(r["replies"], f"MAIL {code}")
                if code != 250:
                    break
                code, text = w.command(f"RCPT TO:<{VICTIM}>")
                count(r["replies"], f"RCPT {code}")
                if code != 250:
                    break
                code, text = w.command("DATA")
                count(r["replies"], f"DATA {code}")
                if code != 354:
                    break
                r["messages_started"] += 1
                s.sendall(hb + line)
                r["bytes_sent"] += len(hb) + len(line)
                off = 0
                while off < len(rest) and not stop.done():
                    piece = rest[off:off + MIB]
                    s.sendall(piece)
                    off += len(piece)
                    r["bytes_sent"] += len(piece)
                if off < len(rest):
                    count(r["outcome"], "aborted at the deadline")
                    break
                s.sendall(b".\r\n")
                t_end = time.time()
                code, text = w.reply()
                r["end_of_data_to_reply_ms_max"] = max(r["end_of_data_to_reply_ms_max"],
                                                       round((time.time() - t_end) * 1000, 1))
                count(r["replies"], f"end of data {code} {text[4:9]}".strip())
                r["messages_complete"] += 1
                if code == 421:
                    break
        except OSError as e:
            count(r["outcome"], ("deadline " if stop.done() else "") + err_name(e))
        stop.close(s)
        time.sleep(0.1)  # no reconnect storm when the server refuses
    return r


# ---------------------------------------------------------------- attack 3: idle connections
def idle_attack(port, n, sources, start_at, end_at):
    wait_start(start_at)
    stop = Stopper(end_at)
    stop.watch()
    r = {"target": n, "attempts": 0, "greeting": {}, "connect_failed": {}, "closed_by_server": {},
         "max_held": 0, "held_at_end": 0, "seconds_to_first_fill": None, "held_series": []}
    held = {}  # slot -> socket
    t0 = time.time()
    while not stop.done():
        for slot in range(n):
            if stop.done():
                break
            if slot in held:
                continue
            r["attempts"] += 1
            try:
                s = stop.connect(port, f"127.0.0.{2 + slot % sources}", 5)
            except OSError as e:
                count(r["connect_failed"], err_name(e))
                continue
            try:
                code, text = Wire(s).reply()
            except OSError as e:
                count(r["greeting"], ("deadline " if stop.done() else "") + err_name(e))
                stop.close(s)
                continue
            count(r["greeting"], f"{code} {text[4:9]}")
            if code == 220:
                held[slot] = s
            else:
                stop.close(s)
        r["max_held"] = max(r["max_held"], len(held))
        if r["seconds_to_first_fill"] is None:
            r["seconds_to_first_fill"] = round(time.time() - t0, 2)
        r["held_series"].append([round(time.time() - t0, 1), len(held)])
        # Wait 2 s, then count what the server closed; the loop reopens it.
        time.sleep(max(0.0, min(2.0, stop.left())))
        if stop.done():
            break
        ready = set(readable(list(held.values())))
        for slot, s in list(held.items()):
            if s not in ready:
                continue
            try:
                data = s.recv(4096)
            except OSError as e:
                data = err_name(e).encode()
            count(r["closed_by_server"], data[:9].decode(errors="replace").strip() or "closed")
            stop.close(s)
            del held[slot]
    r["held_at_end"] = len(held)
    for s in held.values():
        stop.close(s)
    return r


# ---------------------------------------------------------------- attack 4: password guessing
def guess_attack(port, n, start_at, end_at):
    wait_start(start_at)
    stop = Stopper(end_at)
    stop.watch()
    t0 = time.time()
    res = merge(threads_run(stop, guess_thread, n, port))
    res["seconds"] = round(time.time() - t0, 2)
    return res


def guess_thread(stop, i, port):
    r = {"connections": 0, "attempts": 0, "replies": {}, "outcome": {}, "reply_ms_max": 0}
    k = 0
    while not stop.done():
        opened = smtp_open(stop, r, port, "127.0.0.12", 30, "guesser.outside.test")
        if opened is None:
            continue
        s, w, ehlo = opened
        if "AUTH" not in ehlo:
            raise RuntimeError("AUTH not offered to the guesser: " + ehlo)
        try:
            while not stop.done():
                k += 1
                token = base64.b64encode(f"\0{LEGIT}\0wrong-{i}-{k}".encode()).decode()
                t = time.time()
                code, text = w.command("AUTH PLAIN " + token)
                r["attempts"] += 1
                r["reply_ms_max"] = max(r["reply_ms_max"], round((time.time() - t) * 1000, 1))
                count(r["replies"], f"{code} {text[4:9]}")
                if code == 235:
                    raise RuntimeError("a wrong password was accepted")
                if code == 421:
                    break
        except OSError as e:
            count(r["outcome"], ("deadline " if stop.done() else "") + err_name(e))
        stop.close(s)
    return r


# ---------------------------------------------------------------- the legitimate client
class LegitClient:
    def __init__(self, ports, stop, source="127.0.0.1", timeout=30):
        self.ports, self.stop, self.source, self.timeout = ports, stop, source, timeout
        self.auth = "Basic " + base64.b64encode(f"{LEGIT}:{LEGIT_PW}".encode()).decode()
        self.http = None
        self.account = "A" + LEGIT.encode().hex()

    def submit(self, subject):
        """One submission session; {step: ms} of its AUTH and end-of-data (the durable commit)."""
        s = self.stop.connect(self.ports["submission"], self.source, self.timeout)
        w = Wire(s)
        steps_ms = {}
        try:
            steps = [(None, 220), ("EHLO legit.example.test", 250),
                     ("AUTH PLAIN " + base64.b64encode(f"\0{LEGIT}\0{LEGIT_PW}".encode()).decode(), 235),
                     (f"MAIL FROM:<{LEGIT}>", 250), (f"RCPT TO:<{LEGIT}>", 250), ("DATA", 354)]
            for cmd, want in steps:
                t = time.time()
                code, text = w.reply() if cmd is None else w.command(cmd)
                if code != want:
                    raise RuntimeError(f"{(cmd or 'greeting').split(' ')[0]} {text[:60]}")
                if cmd and cmd.startswith("AUTH"):
                    steps_ms["submit:auth"] = round((time.time() - t) * 1000, 2)
            t = time.time()
            s.sendall((f"From: {LEGIT}\r\nTo: {LEGIT}\r\nSubject: {subject}\r\n\r\nA short note.\r\n.\r\n").encode())
            code, text = w.reply()
            if code != 250:
                raise RuntimeError(f"end of data {text[:60]}")
            steps_ms["submit:commit"] = round((time.time() - t) * 1000, 2)
            try:
                w.command("QUIT")
            except OSError:
                pass
        finally:
            self.stop.close(s)
        return steps_ms

    def read(self, subject):
        if self.http is None:
            self.http = http.client.HTTPConnection("127.0.0.1", self.ports["http"], timeout=self.timeout,
                                                   source_address=(self.source, 0))
            self.http.connect()
            self.stop.adopt(self.http.sock)
        # What a mail reader does: the newest few, then their headers.
        body = json.dumps({"using": USING, "methodCalls": [
            ["Email/query", {"accountId": self.account, "limit": 10,
                             "sort": [{"property": "receivedAt", "isAscending": False}]}, "q"],
            ["Email/get", {"accountId": self.account, "properties": ["id", "subject", "from", "preview"],
                           "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"}}, "g"]]})
        try:
            self.http.request("POST", "/jmap/api", body, {"Authorization": self.auth,
                                                         "Content-Type": "application/json"})
            resp = self.http.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException):
            self.drop_http()
            raise
        if resp.status != 200:
            self.drop_http()
            raise RuntimeError(f"JMAP HTTP {resp.status} {data[:60]!r}")
        got = json.loads(data)["methodResponses"][1][1]["list"]
        if not any(e["subject"] == subject for e in got):
            raise RuntimeError("message not found after its 250")

    def drop_http(self):
        if self.http is not None:
            if self.http.sock is not None:
                self.stop.close(self.http.sock)
            self.http.close()
            self.http = None


def legit_run(ports, interval, start_at, end_at):
    stop = Stopper(end_at)
    stop.watch()
    c = LegitClient(ports, stop)
    ops, errors = [], []
    i = 0
    tag = f"{os.getpid()}"
    while not stop.done():
        i += 1
        subject = f"legit {tag} {i}"
        for op, fn in (("submit", c.submit), ("read", c.read)):
            t = time.time()
            try:
                steps = fn(subject) or {}
                ops.append([round(t - start_at, 3), op, round((time.time() - t) * 1000, 2), None])
                ops.extend([round(t - start_at, 3), k, v, None] for k, v in steps.items())
            except (OSError, RuntimeError, ValueError, http.client.HTTPException) as e:
                if stop.done():
                    break  # cut by the deadline: neither a latency nor an error
                ops.append([round(t - start_at, 3), op, round((time.time() - t) * 1000, 2), err_name(e)])
                break
        time.sleep(max(0.0, min(interval, stop.left())))
    c.drop_http()
    return {"ops": ops}


def legit_first_round(ports):
    """One submit + read before anything else: proves the harness talks to this build."""
    stop = Stopper(time.time() + 60)
    c = LegitClient(ports, stop)
    c.submit("legit warm-up")
    c.read("legit warm-up")
    c.drop_http()


def latency(ops, op, t_from, t_to):
    ms = sorted(o[2] for o in ops if o[1] == op and o[3] is None and t_from <= o[0] < t_to)
    errs = [o for o in ops if o[1] == op and o[3] is not None and t_from <= o[0] < t_to]
    return {"n": len(ms), "errors": len(errs), "p50_ms": pct(ms, 50), "p95_ms": pct(ms, 95),
            "p99_ms": pct(ms, 99), "max_ms": ms[-1] if ms else None}


# ---------------------------------------------------------------- refmaild's memory
def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "Threads"):
                out[k] = int(v.split()[0])
    return out


def socket_fds(pid):
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


class Sampler(threading.Thread):
    def __init__(self, pid, every_s, t0):
        super().__init__(daemon=True)
        self.pid, self.every_s, self.t0 = pid, every_s, t0
        self.samples, self.halt, self.failure = [], threading.Event(), None

    def run(self):
        last_fds, fds = 0.0, None
        while not self.halt.is_set():
            try:
                st = proc_status(self.pid)
                now = time.time()
                if now - last_fds >= 1.0:
                    fds, last_fds = socket_fds(self.pid), now
                self.samples.append([round(now - self.t0, 3), st["VmRSS"], st["VmHWM"], st["RssAnon"],
                                     st["RssFile"], st["Threads"], fds])
            except (OSError, KeyError) as e:
                self.failure = err_name(e)
                return
            self.halt.wait(self.every_s)


# ---------------------------------------------------------------- after the run
def metrics(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode(errors="replace")
    finally:
        c.close()
    keep = re.compile(r"^refmail_(smtp|auth|internal|over_quota|deliveries|http_requests_total)")
    return {ln.rsplit(" ", 1)[0]: float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines()
            if keep.match(ln) and " " in ln and float(ln.rsplit(" ", 1)[1]) != 0}


def log_events(path):
    ev = {}
    with open(path, "rb") as f:
        for line in f:
            parts = line.rstrip(b"\n").split(b" ", 3)
            if len(parts) >= 3:
                count(ev, parts[2].decode(errors="replace"))
    return dict(sorted(ev.items(), key=lambda kv: -kv[1]))


# ---------------------------------------------------------------- main
def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(HERE, "..", "..", "build"), help="build folder with refmaild")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of attack")
    ap.add_argument("--baseline", type=float, default=5.0, help="seconds of the legitimate client alone first")
    ap.add_argument("--tail", type=float, default=5.0, help="seconds of sampling after the attacks stop")
    ap.add_argument("--attacks", default=",".join(ATTACKS), help="subset of " + ",".join(ATTACKS))
    ap.add_argument("--http-attackers", type=int, default=8)
    ap.add_argument("--http-pause", type=float, default=0.05)
    ap.add_argument("--big-senders", type=int, default=6)
    ap.add_argument("--big-mb", type=float, default=43.0)
    ap.add_argument("--big-same", action="store_true", help="identical attachments (they deduplicate)")
    ap.add_argument("--idle", type=int, default=500)
    ap.add_argument("--idle-sources", type=int, default=10)
    ap.add_argument("--guessers", type=int, default=4)
    ap.add_argument("--legit-interval", type=float, default=0.2)
    ap.add_argument("--sample-ms", type=float, default=50.0)
    ap.add_argument("--goal-rss-mib", type=float, default=256.0)
    ap.add_argument("--goal-p99-ms", type=float, default=1000.0)
    ap.add_argument("--extra-toml", default="", help="appended to the config (no second [smtp] table)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (config, log, store)")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    a.attacks = [x for x in a.attacks.split(",") if x]
    if any(x not in ATTACKS for x in a.attacks):
        ap.error("--attacks: choose from " + ",".join(ATTACKS))
    if not 1 <= a.idle_sources <= 10 or a.http_attackers > 20 or a.big_senders > 20:
        ap.error("address plan: --idle-sources 1..10, --http-attackers and --big-senders <= 20")
    return a


def describe_build(build):
    """Build type and the source tree's commit (read only: no index refresh)."""
    cache = os.path.join(build, "CMakeCache.txt")
    text = open(cache).read() if os.path.exists(cache) else ""
    kind = re.search(r"^CMAKE_BUILD_TYPE:\w+=(.*)$", text, re.M)
    src = re.search(r"^CMAKE_HOME_DIRECTORY:\w+=(.*)$", text, re.M)
    out = {"dir": os.path.abspath(build), "type": kind.group(1) if kind else "?"}
    if src:
        git = ["git", "--no-optional-locks", "-C", src.group(1)]
        out["source"] = src.group(1)
        out["commit"] = subprocess.run(git + ["rev-parse", "--short", "HEAD"], capture_output=True,
                                       text=True, timeout=30).stdout.strip()
        out["uncommitted_changes"] = bool(subprocess.run(git + ["status", "--porcelain", "-uno"],
                                                         capture_output=True, text=True, timeout=30).stdout.strip())
    return out


def run(a):
    build = os.path.abspath(a.build)  # refmaild runs with its temporary folder as cwd
    harness.REFMAILD = os.path.join(build, "server", "refmaild")
    harness.REFMAILCTL = os.path.join(build, "tools", "refmailctl")
    out = {"date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), "argv": sys.argv,
           "build": describe_build(a.build), "loadavg_start": loadavg(), "attacks": a.attacks}
    d = BenchDaemon(extra_toml="[smtp]\nplain_auth_on_loopback = true\n" + a.extra_toml)
    procs, failure = [], None
    try:
        d.add_user(LEGIT, LEGIT_PW)
        d.add_user(VICTIM, VICTIM_PW)
        legit_first_round(d.ports)
        pid = d.proc.pid
        out["rss_before_kib"] = proc_status(pid)["VmRSS"]
        big = big_message(int(a.big_mb * MB)) if "big" in a.attacks else None
        q = multiprocessing.Queue()
        t0 = time.time() + 1.0
        attack_at, end_at = t0 + a.baseline, t0 + a.baseline + a.duration
        victim = "A" + VICTIM.encode().hex()
        jobs = {"legit": (legit_run, d.ports, a.legit_interval, t0, end_at)}
        if "http" in a.attacks:
            jobs["http"] = (http_attack, d.ports["http"], victim, a.http_attackers, a.http_pause, attack_at, end_at)
        if "big" in a.attacks:
            jobs["big"] = (big_attack, d.ports["smtp"], a.big_senders, big, a.big_same, attack_at, end_at)
        if "idle" in a.attacks:
            jobs["idle"] = (idle_attack, d.ports["smtp"], a.idle, a.idle_sources, attack_at, end_at)
        if "guess" in a.attacks:
            jobs["guess"] = (guess_attack, d.ports["submission"], a.guessers, attack_at, end_at)
        for name, (fn, *args) in jobs.items():
            p = multiprocessing.Process(target=run_worker, args=(name, q, fn, *args), daemon=True)
            p.start()
            procs.append(p)
        sampler = Sampler(pid, a.sample_ms / 1000, t0)
        sampler.start()
        results = {}
        grace = end_at + 90
        while len(results) < len(jobs) and time.time() < grace:
            try:
                name, res, tb = q.get(timeout=1.0)
            except Exception:  # queue.Empty
                if d.proc.poll() is not None:
                    break
                continue
            if tb:
                failure = f"worker {name} crashed:\n{tb}"
            results[name] = res
        time.sleep(max(0.0, end_at + a.tail - time.time()))
        sampler.halt.set()
        sampler.join(5)
        out["loadavg_end"] = loadavg()
        if d.proc.poll() is not None:
            failure = failure or f"refmaild exited with {d.proc.returncode} during the run:\n{d.tail(30)}"
        elif sampler.failure:
            failure = failure or "RSS sampler failed: " + sampler.failure
        missing = [n for n in jobs if n not in results]
        if missing and not failure:
            failure = "no result from " + ", ".join(missing)
        if not failure:
            out["metrics"] = metrics(d.ports["http"])
        out.update(summarise(a, results, sampler.samples, attack_at - t0, end_at - t0))
    finally:
        for p in procs:
            p.join(5)
            if p.is_alive():
                p.terminate()
                p.join(5)
        try:
            d.stop(timeout=10)  # SIGTERM, then SIGKILL after 10 s
        except AssertionError as e:
            print(e, file=sys.stderr)
        out["log_events"] = log_events(d.log_path)
        if a.keep:
            out["kept_dir"] = d.dir
        else:
            shutil.rmtree(d.dir, ignore_errors=True)
    out["harness_failure"] = failure
    return out


def summarise(a, results, samples, attack_s, end_s):
    s = {"samples": len(samples)}
    rss = [x[1] for x in samples]
    if samples:
        peak = max(samples, key=lambda x: x[1])
        s["rss"] = {"peak_vmrss_kib": peak[1], "at_s": peak[0], "rss_anon_at_peak_kib": peak[3],
                    "rss_file_at_peak_kib": peak[4], "threads_at_peak": peak[5],
                    "vmhwm_kib": samples[-1][2], "start_kib": rss[0],
                    "baseline_max_kib": max([x[1] for x in samples if x[0] < attack_s] or [0]),
                    "after_tail_kib": rss[-1], "max_socket_fds": max((x[6] or 0) for x in samples)}
        s["rss_series"] = samples[::max(1, len(samples) // 400)]  # [t s, VmRSS, VmHWM, Anon, File, thr, sock]
    ops = results.get("legit", {}).get("ops", [])
    s["legit"] = {phase: {op: latency(ops, op, t_from, t_to) for op in LEGIT_OPS}
                  for phase, (t_from, t_to) in (("baseline", (0, attack_s)), ("attack", (attack_s, end_s)))}
    errs = [o for o in ops if o[3] is not None]
    s["legit"]["errors"] = {}
    for o in errs:
        count(s["legit"]["errors"], f"{o[1]}: {o[3]}")
    s["legit"]["first_errors"] = errs[:20]
    for k in ATTACKS:
        if k in results:
            s[k] = results[k]
    g = results.get("guess")
    if g:
        checked = sum(v for k, v in g["replies"].items() if k.startswith("535"))
        s["guess"]["checked_per_s"] = round(checked / max(g["seconds"], 1e-9), 3)
        s["guess"]["attempts_per_s"] = round(g["attempts"] / max(g["seconds"], 1e-9), 3)
    peak_mib = s.get("rss", {}).get("peak_vmrss_kib", 0) / 1024
    hwm_mib = s.get("rss", {}).get("vmhwm_kib", 0) / 1024
    att = s["legit"]["attack"]
    p99s = [att[op]["p99_ms"] for op in ("submit", "read") if att[op]["p99_ms"] is not None]
    s["goals"] = {
        "peak_rss_under_%d_mib" % a.goal_rss_mib: max(peak_mib, hwm_mib) < a.goal_rss_mib,
        "legit_no_errors": not errs and all(att[op]["n"] > 0 for op in ("submit", "read")),
        "legit_p99_under_%d_ms" % a.goal_p99_ms: bool(p99s) and max(p99s) < a.goal_p99_ms,
    }
    return s


def print_summary(out):
    r = out.get("rss", {})
    print(f"build {out['build']['dir']} ({out['build']['type']}), {out['date_utc']} UTC, "
          f"load {out['loadavg_start']} -> {out.get('loadavg_end')}, attacks {','.join(out['attacks'])}")
    if r:
        print(f"refmaild RSS: start {r['start_kib'] / 1024:.1f} MiB, baseline max {r['baseline_max_kib'] / 1024:.1f}, "
              f"peak VmRSS {r['peak_vmrss_kib'] / 1024:.1f} MiB at {r['at_s']:.1f} s "
              f"(anon {r['rss_anon_at_peak_kib'] / 1024:.1f}, file {r['rss_file_at_peak_kib'] / 1024:.1f}, "
              f"{r['threads_at_peak']} threads), VmHWM {r['vmhwm_kib'] / 1024:.1f} MiB, "
              f"after {r['after_tail_kib'] / 1024:.1f} MiB; max sockets {r['max_socket_fds']}")
    for phase in ("baseline", "attack"):
        for op in LEGIT_OPS:
            x = out["legit"][phase][op]
            print(f"legit {phase:8} {op:13}: n={x['n']} errors={x['errors']} p50={x['p50_ms']} p95={x['p95_ms']} "
                  f"p99={x['p99_ms']} max={x['max_ms']} ms")
    for k, v in out["legit"]["errors"].items():
        print(f"  legit error x{v}: {k}")
    for k in ATTACKS:
        if k in out:
            v = {kk: vv for kk, vv in out[k].items() if kk != "held_series"}
            print(f"{k}: {json.dumps(v)}")
    print("metrics: " + json.dumps(out.get("metrics", {})))
    print("log events: " + json.dumps(out.get("log_events", {})))
    for g, ok in out.get("goals", {}).items():
        print(f"goal {g}: {'met' if ok else 'NOT met'}")


def main():
    a = parse_args()
    out = run(a)
    if "legit" in out:
        print_summary(out)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    if out["harness_failure"]:
        print("HARNESS FAILURE: " + out["harness_failure"], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

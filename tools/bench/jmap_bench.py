#!/usr/bin/env python3
"""JMAP benchmark (issue 6, "Performance"): the real refmaild (start it from a Release build)
on 127.0.0.1, fed over SMTP, read over HTTP. Bounded in count and time; loopback only; every
process started here is stopped by PID (refmaild through tests/e2e/harness.py's Daemon, the
client processes by multiprocessing's join/terminate).

  REFMAIL_BUILD_DIR=../build-rel python3 tools/bench/jmap_bench.py --json out.json
  REFMAIL_BUILD_DIR=../build-rel python3 tools/bench/jmap_bench.py --requests 2000 --downloads 5 \\
      --clients 100 --processes 4 --duration 10 --json out.json

Set-up: one user; over SMTP (port 25 path, local delivery) three messages with the same text
body: A with one --attachment-mb attachment (default 11 MB, random bytes, base64), B with no
attachment, C with one --download-mb attachment (default 50 MB). MB = 10^6 bytes everywhere.
refmaild runs with log_level "info" (the harness default "debug" writes one log line per HTTP
request) and limits raised only where the bench needs it (message size for C, connections per
IP for 100 loopback clients).

Measured:
  1. `Email/get` of A and of B with fetchTextBodyValues and the properties a reader shows,
     alternating A, B, A, B... over ONE keep-alive connection (raw socket, HTTP/1.1, Basic
     auth as a JMAP client sends it), --requests each after --warmup each: median/p90/p99/
     mean latency (client clock, send to last byte), the ratio A/B, the bytes received per
     response counted on the socket (status line + headers + body) and that as a fraction
     of A's full message (the bytes delivered over SMTP, and JMAP's `size`).
  2. Download of C's attachment by blobId with curl (-o /dev/null, %{speed_download}),
     --downloads runs: best and median; one extra run to a file checks it is byte-identical.
     Then `Range: bytes=-1048576` (the last 1 MiB): status 206, bytes checked, time.
  3. `Email/get` (of A) requests/s with --clients keep-alive connections spread over
     --processes Python processes (each a selectors loop, one request in flight per
     connection), for --duration seconds after every connection answered one request:
     requests/s, errors, latency percentiles under load, refmaild's CPU seconds over the
     run (/proc/<pid>/stat), the clients' CPU seconds, and the machine's busy CPU share:
     if the clients used more CPU than refmaild on a 2-core machine, they were the limit.
  4. The load average at the start and before each phase.
--json FILE writes everything."""
import argparse, base64, hashlib, json, multiprocessing, os, random, selectors, smtplib, socket, statistics
import subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "e2e"))
import harness  # noqa: E402
from harness import Daemon  # noqa: E402

USER, PASSWORD = "reader@example.test", "reader-pw-1"
TEXT = "Hello,\r\n\r\nthe quarterly figures are attached. Comments by Friday, please.\r\n\r\nRegards,\r\nSam\r\n"
# What a mail reader shows for one message (RFC 8621 4.1), body values of the text parts.
READER_PROPS = ["id", "blobId", "threadId", "mailboxIds", "keywords", "size", "receivedAt", "messageId",
                "inReplyTo", "references", "from", "to", "cc", "replyTo", "subject", "sentAt",
                "hasAttachment", "preview", "bodyValues", "textBody", "htmlBody", "attachments"]
USING = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"]
MB = 1_000_000


class BenchDaemon(Daemon):
    """The harness's Daemon with the log level set before every start (its config says debug)."""
    log_level = "info"

    def start(self):
        with open(self.config) as f:
            cfg = f.read()
        cfg = cfg.replace('log_level = "debug"', f'log_level = "{self.log_level}"', 1)
        with open(self.config, "w") as f:
            f.write(cfg)
        super().start()


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        v = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in v[11:13]) / os.sysconf("SC_CLK_TCK")  # utime + stime


def proc_user_sys_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        v = f.read().rsplit(")", 1)[1].split()
    hz = os.sysconf("SC_CLK_TCK")
    return int(v[11]) / hz, int(v[12]) / hz


def thread_cpu_s(pid):
    """{tid: (name, cpu seconds)} for every thread of pid."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        name = raw[raw.find("(") + 1:raw.rfind(")")]
        v = raw.rsplit(")", 1)[1].split()
        out[tid] = (name, (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK"))
    return out


def busy_idle_jiffies():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, idle


def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100 * (len(sorted_vals) - 1)))))
    return sorted_vals[k]


def lat_summary(ns):
    s = sorted(ns)
    ms = lambda x: None if x is None else round(x / 1e6, 4)  # noqa: E731
    return {"n": len(s), "median_ms": ms(pct(s, 50)), "p90_ms": ms(pct(s, 90)), "p99_ms": ms(pct(s, 99)),
            "mean_ms": ms(statistics.fmean(s)) if s else None, "min_ms": ms(s[0] if s else None),
            "max_ms": ms(s[-1] if s else None)}


def message(subject, attachment=None, name="figures.bin"):
    head = (f"From: Sam Sender <sam@outside.test>\r\nTo: {USER}\r\nSubject: {subject}\r\n"
            f"Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{hashlib.sha1(subject.encode()).hexdigest()}"
            f"@outside.test>\r\nMIME-Version: 1.0\r\n")
    if attachment is None:
        return (head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + TEXT).encode()
    b64 = base64.b64encode(attachment)
    body = b"\r\n".join(b64[i:i + 76] for i in range(0, len(b64), 76))
    return (head + "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
            "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + TEXT +
            f"--b1\r\nContent-Type: application/octet-stream; name=\"{name}\"\r\n"
            f"Content-Disposition: attachment; filename=\"{name}\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n").encode() + body + b"\r\n--b1--\r\n"


# ---------------------------------------------------------------- a minimal HTTP/1.1 client
def api_request(port, auth, payload):
    body = json.dumps(payload, separators=(",", ":")).encode()
    return (f"POST /jmap/api HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {auth}\r\n"
            f"Content-Type: application/json\r\nAccept: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body


def get_request(port, auth, path):
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {auth}\r\n\r\n".encode()


def response_end(buf):
    """Length of the first complete response in buf (Content-Length framing), or None."""
    h = buf.find(b"\r\n\r\n")
    if h < 0:
        return None
    length = None
    for line in buf[:h].split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        k = k.strip().lower()
        if k == b"content-length":
            length = int(v.strip())
        elif k == b"transfer-encoding":
            raise RuntimeError("chunked response: this client counts Content-Length framed responses only")
    if length is None:
        raise RuntimeError("response without Content-Length: " + buf[:h].decode(errors="replace"))
    end = h + 4 + length
    return end if len(buf) >= end else None


class Conn:
    """One keep-alive connection; exchange() returns (status, head+body bytes, body, ns)."""

    def __init__(self, port, timeout=30):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def exchange(self, req):
        t0 = time.perf_counter_ns()
        self.sock.sendall(req)
        buf = self.buf
        while True:
            end = response_end(buf)
            if end is not None:
                break
            chunk = self.sock.recv(262144)
            if not chunk:
                raise RuntimeError("connection closed by refmaild")
            buf += chunk
        ns = time.perf_counter_ns() - t0
        resp, self.buf = buf[:end], buf[end:]
        if self.buf:
            raise RuntimeError("bytes after the response")
        status = int(resp[9:12])
        return status, len(resp), resp[resp.find(b"\r\n\r\n") + 4:], ns

    def close(self):
        self.sock.close()


# ---------------------------------------------------------------- set-up
def deliver(d, msgs):
    s = smtplib.SMTP("127.0.0.1", d.ports["smtp"], timeout=300)
    for m in msgs:
        s.sendmail("sam@outside.test", [USER], m)
    s.quit()


def email_get_payload(account, ids):
    return {"using": USING, "methodCalls": [["Email/get", {
        "accountId": account, "ids": ids, "properties": READER_PROPS, "fetchTextBodyValues": True}, "g"]]}


def setup_ids(conn, port, auth):
    st, _, body, _ = conn.exchange(get_request(port, auth, "/.well-known/jmap"))
    if st != 200:
        raise RuntimeError(f"session resource: {st} {body[:200]!r}")
    session = json.loads(body)
    account = session["primaryAccounts"]["urn:ietf:params:jmap:mail"]
    ids = {}
    for key in ("A", "B", "C"):
        q = {"using": USING, "methodCalls": [
            ["Email/query", {"accountId": account, "filter": {"subject": f"bench {key}"}}, "q"],
            ["Email/get", {"accountId": account, "properties": ["id", "subject", "size", "attachments"],
                           "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"}}, "g"]]}
        st, _, body, _ = conn.exchange(api_request(port, auth, q))
        if st != 200:
            raise RuntimeError(f"Email/query: {st} {body[:300]!r}")
        found = [e for e in json.loads(body)["methodResponses"][1][1]["list"] if e["subject"] == f"bench {key}"]
        if len(found) != 1:
            raise RuntimeError(f"message bench {key} not found exactly once: {found}")
        ids[key] = found[0]
    return session, account, ids


# ---------------------------------------------------------------- 1. Email/get, one connection
def bench_email_get(a, port, auth, account, ids, raw_sizes):
    conn = Conn(port)
    reqs = {k: api_request(port, auth, email_get_payload(account, [ids[k]["id"]])) for k in ("A", "B")}
    lat = {"A": [], "B": []}
    wire = {"A": set(), "B": set()}
    checked = {}
    try:
        for i in range(a.warmup + a.requests):
            for k in ("A", "B"):
                st, nbytes, body, ns = conn.exchange(reqs[k])
                if st != 200:
                    raise RuntimeError(f"Email/get {k}: {st} {body[:300]!r}")
                if k not in checked:  # the answer is the real one: body value, attachment metadata
                    em = json.loads(body)["methodResponses"][0][1]["list"][0]
                    vals = "".join(v["value"] for v in em["bodyValues"].values())
                    if "quarterly figures" not in vals or len(em["attachments"]) != (1 if k == "A" else 0):
                        raise RuntimeError(f"Email/get {k} does not carry the body value/attachments: {em}")
                    checked[k] = {"hasAttachment": em["hasAttachment"], "size": em["size"],
                                  "attachment_size": em["attachments"][0]["size"] if em["attachments"] else None}
                if i >= a.warmup:
                    lat[k].append(ns)
                    wire[k].add(nbytes)
    finally:
        conn.close()
    out = {"requests_each": a.requests, "warmup_each": a.warmup, "order": "A,B alternating on one connection",
           "request_bytes": {k: len(v) for k, v in reqs.items()}}
    for k in ("A", "B"):
        out[k] = lat_summary(lat[k])
        out[k]["response_bytes_on_wire"] = sorted(wire[k])
        out[k].update(checked[k])
    out["median_ratio_A_over_B"] = round(out["A"]["median_ms"] / out["B"]["median_ms"], 3)
    wa = max(wire["A"])
    out["A_full_message_bytes_smtp"] = raw_sizes["A"]
    out["A_wire_fraction_of_full_message"] = round(wa / raw_sizes["A"], 8)
    out["A_wire_percent_of_full_message"] = round(100 * wa / raw_sizes["A"], 5)
    out["A_wire_fraction_of_jmap_size"] = round(wa / checked["A"]["size"], 8)
    return out


# ---------------------------------------------------------------- 2. downloads with curl
def curl(a, url, *extra):
    r = subprocess.run(["curl", "-s", "-u", f"{USER}:{PASSWORD}", "--max-time", str(a.curl_timeout), *extra,
                        "-w", "%{http_code} %{size_download} %{speed_download} %{time_total}", url],
                       capture_output=True, text=True, timeout=a.curl_timeout + 10)
    code, size, speed, total = r.stdout.split()[-4:]
    return int(code), int(size), float(speed), float(total)


def bench_download(a, port, session, account, blob, payload):
    path = (session["downloadUrl"].replace("{accountId}", account).replace("{blobId}", blob)
            .replace("{name}", "big.bin").replace("{type}", "application%2Foctet-stream"))
    url = f"http://127.0.0.1:{port}{path}"
    out = {"attachment_bytes": len(payload), "url_path": path}
    tmp = tempfile.NamedTemporaryFile(prefix="jmap-bench-", delete=False)
    tmp.close()
    try:
        code, size, _, _ = curl(a, url, "-o", tmp.name)  # correctness, not timed
        with open(tmp.name, "rb") as f:
            ok = hashlib.sha256(f.read()).digest() == hashlib.sha256(payload).digest()
        if code != 200 or not ok:
            raise RuntimeError(f"download: status {code}, {size} bytes, identical {ok}")
        out["byte_identical"] = True
        out["load_before"] = loadavg()
        runs = []
        for _ in range(a.downloads):
            code, size, speed, total = curl(a, url, "-o", "/dev/null")
            if code != 200 or size != len(payload):
                raise RuntimeError(f"download run: status {code}, {size} bytes")
            runs.append({"GB_per_s": round(speed / 1e9, 3), "seconds": total})
        out["runs"] = runs
        speeds = sorted(r["GB_per_s"] for r in runs)
        out["best_GB_per_s"] = speeds[-1]
        out["median_GB_per_s"] = round(statistics.median(speeds), 3)
        tail = 1 << 20
        rr = []
        for _ in range(a.downloads):
            code, size, speed, total = curl(a, url, "-H", f"Range: bytes=-{tail}", "-o", tmp.name)
            with open(tmp.name, "rb") as f:
                same = f.read() == payload[-tail:]
            if code != 206 or size != tail or not same:
                raise RuntimeError(f"range: status {code}, {size} bytes, identical {same}")
            rr.append(total)
        out["range_last_1MiB"] = {"status": 206, "bytes": tail, "byte_identical": True, "runs": len(rr),
                                  "median_ms": round(statistics.median(rr) * 1000, 3),
                                  "best_ms": round(min(rr) * 1000, 3)}
    finally:
        os.unlink(tmp.name)
    return out


# ---------------------------------------------------------------- 3. many keep-alive clients
def load_worker(port, req, nconn, start_at, end_at, keep_latency, q):
    """One process: nconn connections, one request in flight on each, selectors loop."""
    try:
        _load_worker(port, req, nconn, start_at, end_at, keep_latency, q)
    except Exception as e:  # noqa: BLE001 (the parent reports it)
        q.put({"fatal": repr(e)})


def _load_worker(port, req, nconn, start_at, end_at, keep_latency, q):
    res = {"requests": 0, "errors": 0, "connect_failed": 0, "latency_ns": [], "cpu_s": 0.0, "bytes": 0}
    conns = []
    for _ in range(nconn):  # connect and prove each connection with one request before the clock
        try:
            c = Conn(port)
            st, _, _, _ = c.exchange(req)
            if st != 200:
                raise RuntimeError(st)
            c.sock.setblocking(False)
            conns.append(c)
        except Exception:  # noqa: BLE001 (counted, reported)
            res["connect_failed"] += 1
    sel = selectors.DefaultSelector()
    while time.time() < start_at:
        time.sleep(min(0.01, max(0.0, start_at - time.time())))
    c0 = os.times()
    sent_at = {}
    for c in conns:
        sel.register(c.sock, selectors.EVENT_READ, c)
        sent_at[c] = time.perf_counter_ns()  # before the send: a preemption after it must not hide
        if c.sock.send(req) != len(req):     # small: fits the empty socket buffer
            raise RuntimeError("partial send")
    live = len(conns)
    while live and time.time() < end_at:
        for key, _ in sel.select(timeout=0.1):
            c = key.data
            try:
                chunk = c.sock.recv(262144)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                res["errors"] += 1
                sel.unregister(c.sock)
                c.sock.close()
                live -= 1
                continue
            c.buf += chunk
            end = response_end(c.buf)
            if end is None:
                continue
            now = time.perf_counter_ns()
            if time.time() >= end_at:
                break
            if c.buf[9:12] == b"200":
                res["requests"] += 1
                res["bytes"] += end
                if keep_latency:
                    res["latency_ns"].append(now - sent_at[c])
            else:
                res["errors"] += 1
            c.buf = c.buf[end:]
            sent_at[c] = time.perf_counter_ns()
            if c.sock.send(req) != len(req):
                raise RuntimeError("partial send")
    c1 = os.times()
    res["cpu_s"] = (c1.user - c0.user) + (c1.system - c0.system)
    for c in conns:
        c.sock.close()
    q.put(res)


def bench_load(a, d, port, auth, account, email_id):
    req = api_request(port, auth, email_get_payload(account, [email_id]))
    per = [a.clients // a.processes + (1 if i < a.clients % a.processes else 0) for i in range(a.processes)]
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    start_at = time.time() + a.connect_seconds
    end_at = start_at + a.duration
    procs = [ctx.Process(target=load_worker, args=(port, req, n, start_at, end_at, True, q), daemon=True)
             for n in per]
    for p in procs:
        p.start()
    results = []
    try:
        while time.time() < start_at:
            time.sleep(0.005)
        load = loadavg()
        cpu0, (busy0, idle0), t0 = proc_cpu_s(d.proc.pid), busy_idle_jiffies(), time.time()
        ccpu0 = sum(proc_cpu_s(p.pid) for p in procs)
        th0, us0 = thread_cpu_s(d.proc.pid), proc_user_sys_s(d.proc.pid)
        while time.time() < end_at:
            time.sleep(0.05)
        cpu1, (busy1, idle1), t1 = proc_cpu_s(d.proc.pid), busy_idle_jiffies(), time.time()
        ccpu1 = sum(proc_cpu_s(p.pid) for p in procs)
        th1, us1 = thread_cpu_s(d.proc.pid), proc_user_sys_s(d.proc.pid)
        for _ in procs:
            results.append(q.get(timeout=a.duration + 60))
    finally:
        for p in procs:  # every worker is ours, stopped by its own handle (its PID)
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
                p.join()
    fatal = [r["fatal"] for r in results if "fatal" in r]
    if fatal:
        raise RuntimeError("a client process failed: " + "; ".join(fatal))
    n = sum(r["requests"] for r in results)
    lat = [x for r in results for x in r["latency_ns"]]
    server_cpu, client_cpu = cpu1 - cpu0, ccpu1 - ccpu0  # both from /proc/<pid>/stat, same window
    wall = t1 - t0
    # the busiest refmaild threads (the main thread runs the io_context; pool threads run handlers)
    threads = sorted(((th1[t][1] - th0.get(t, ("", 0.0))[1], t, th1[t][0]) for t in th1), reverse=True)
    top = [{"tid": int(t), "name": nm, "main_thread": int(t) == d.proc.pid, "cpu_s": round(c, 2),
            "share_of_one_core": round(c / wall, 3)} for c, t, nm in threads[:4]]
    return {"clients": a.clients, "processes": a.processes, "connections_per_process": per,
            "duration_s": round(wall, 2), "load_at_start": load, "requests": n,
            "requests_per_s": round(n / a.duration, 1),
            "errors": sum(r["errors"] for r in results),
            "connections_failed": sum(r["connect_failed"] for r in results),
            "latency_under_load": lat_summary(lat),
            "refmaild_cpu_s": round(server_cpu, 2), "clients_cpu_s": round(client_cpu, 2),
            "clients_cpu_s_own_clock": round(sum(r["cpu_s"] for r in results), 2),
            "clients_cpu_us_per_request": round(client_cpu * 1e6 / max(n, 1), 1),
            "refmaild_cpu_us_per_request": round(server_cpu * 1e6 / max(n, 1), 1),
            "refmaild_user_s": round(us1[0] - us0[0], 2), "refmaild_system_s": round(us1[1] - us0[1], 2),
            "refmaild_threads": len(th1), "refmaild_busiest_threads": top,
            "machine_cpus": os.cpu_count(),
            "machine_busy_share": round((busy1 - busy0) / max(1, (busy1 - busy0) + (idle1 - idle0)), 3),
            "note": ("client-bound if clients_cpu_s > refmaild_cpu_s while machine_busy_share ~ 1; "
                     "bound by refmaild's io thread if its share_of_one_core ~ 1")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=2000, help="measured Email/get per message (A and B)")
    ap.add_argument("--warmup", type=int, default=200, help="unmeasured Email/get per message first")
    ap.add_argument("--attachment-mb", type=float, default=11.0)
    ap.add_argument("--download-mb", type=float, default=50.0)
    ap.add_argument("--downloads", type=int, default=5, help="timed curl runs (full and Range each)")
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--processes", type=int, default=4)
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of the many-clients run")
    ap.add_argument("--connect-seconds", type=float, default=5.0, help="time to open every connection")
    ap.add_argument("--curl-timeout", type=int, default=60)
    ap.add_argument("--log-level", default="info", choices=["debug", "info", "warn", "error"])
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    if not (1 <= a.requests <= 100000 and 0 <= a.warmup <= 10000 and 1 <= a.clients <= 1000
            and 1 <= a.processes <= 64 and 0 < a.duration <= 120 and 1 <= a.downloads <= 50
            and 0 < a.attachment_mb <= 40 and 0 < a.download_mb <= 70):
        sys.exit("a bound is out of range (see --help)")
    if subprocess.run(["curl", "--version"], capture_output=True).returncode != 0:
        sys.exit("curl is needed")

    build = os.path.abspath(harness.BUILD)
    build_type = None
    try:
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            for line in f:
                if line.startswith("CMAKE_BUILD_TYPE:"):
                    build_type = line.split("=", 1)[1].strip()
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
    except OSError:
        commit = None
    report = {"command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]), "build_dir": build,
              "build_type": build_type, "commit": commit, "load_at_start": loadavg(), "cpus": os.cpu_count(),
              "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "log_level": a.log_level}
    print(json.dumps(report), flush=True)
    if build_type != "Release":
        print(f"warning: build type {build_type!r}, the figures are meant for Release", file=sys.stderr)

    rnd = random.Random(6)
    att = rnd.randbytes(int(a.attachment_mb * MB))
    big = rnd.randbytes(int(a.download_mb * MB))
    msgs = {"A": message("bench A", att), "B": message("bench B"), "C": message("bench C", big, "big.bin")}
    raw_sizes = {k: len(v) for k, v in msgs.items()}
    BenchDaemon.log_level = a.log_level
    limit = max(raw_sizes.values()) + (1 << 20)
    d = BenchDaemon(extra_toml=f"[limits]\nmessage_size = {limit}\nconnections = {max(500, 2 * a.clients)}\n"
                               f"connections_per_ip = {a.clients + 20}\n")
    try:
        report["refmaild_pid"] = d.proc.pid
        d.add_user(USER, PASSWORD)
        t = time.time()
        deliver(d, [msgs["A"], msgs["B"], msgs["C"]])
        report["delivery_seconds"] = round(time.time() - t, 2)
        report["message_bytes_smtp"] = raw_sizes
        port = d.ports["http"]
        auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        conn = Conn(port)
        try:
            session, account, ids = setup_ids(conn, port, auth)
        finally:
            conn.close()
        report["attachment_bytes"] = {"A": len(att), "C": len(big)}

        report["load_before_email_get"] = loadavg()
        report["email_get"] = bench_email_get(a, port, auth, account, ids, raw_sizes)
        print(json.dumps({"email_get": report["email_get"]}), flush=True)

        blob = ids["C"]["attachments"][0]["blobId"]
        report["download"] = bench_download(a, port, session, account, blob, big)
        print(json.dumps({"download": report["download"]}), flush=True)

        report["load_before_many_clients"] = loadavg()
        report["many_clients"] = bench_load(a, d, port, auth, account, ids["A"]["id"])
        print(json.dumps({"many_clients": report["many_clients"]}), flush=True)
        report["refmaild_alive_at_end"] = d.proc.poll() is None
    finally:
        d.cleanup()
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()

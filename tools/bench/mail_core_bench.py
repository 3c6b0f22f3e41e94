#!/usr/bin/env python3
"""tools/bench/mail_core_bench.py — the mail-core issue's benchmark: refmaild's memory per
message and its SMTP throughput, for one or more builds in the same session.

Memory: a fresh refmaild, one user; VmRSS when idle, then VmHWM after one message with a
30 MB random attachment (41 MB as base64) is received over SMTP; the peak is reset
(/proc/PID/clear_refs 5) and VmHWM read again after the message is downloaded raw over
JMAP (the bytes are checked against what was sent). Growth = HWM - RSS before.
Throughput (with --workload): a store holding the workload's users, then
tools/bench/smtp_load.py (PIPELINING, 8 connections, --limit messages) against its MX
port: accepted msg/s and refmaild's CPU ms per message.

Builds alternate round by round (A B A B ...), so load on the shared machine hits both.
Everything on 127.0.0.1; every refmaild is stopped by PID (SIGTERM, then SIGKILL).

Usage:
  mail_core_bench.py --build before=/path/build-main --build after=build [--rounds 3]
                     [--workload /work/bench-work/synth --limit 1000] [--json OUT]
"""
import argparse, base64, json, os, shutil, smtplib, sys, tempfile, time, urllib.request

HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, HERE)
import smtp_compare  # noqa: E402  (Refmaild, prepare_template, run_client, client_cmd)


def status(pid, key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{key} not in /proc/{pid}/status")


def big_message():
    payload = os.urandom(30 * 1024 * 1024)
    b64 = base64.b64encode(payload).decode()
    body = "\r\n".join(b64[i:i + 76] for i in range(0, len(b64), 76))
    return ("From: a@outside.test\r\nTo: big@example.test\r\nSubject: forty\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
            "--b\r\nContent-Type: application/octet-stream; name=big.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            f"{body}\r\n--b--\r\n").encode()


def jmap(port, user, password, method, path="/jmap/api", body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method)
    req.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    if body is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=300) as r:
        return r.read()


def memory_round(build, msg, tmp):
    work = tempfile.mkdtemp(prefix="mem-", dir=tmp)
    d = smtp_compare.Refmaild(build, os.path.join(work, "data"), work, "warn")
    pid = d.start()
    try:
        d.ctl("user", "add", "big@example.test", "--password-stdin", stdin="pw-big-1234\n")
        time.sleep(1)
        idle = status(pid, "VmRSS:")
        t = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", d.ports["smtp"], timeout=300) as s:
            s.sendmail("a@outside.test", ["big@example.test"], msg)
        rx_s = time.perf_counter() - t
        rx_hwm = status(pid, "VmHWM:")
        time.sleep(1)
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        base = status(pid, "VmRSS:")
        session = json.loads(jmap(d.ports["http"], "big@example.test", "pw-big-1234", "GET", "/.well-known/jmap"))
        account = next(iter(session["accounts"]))
        req = {"using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"],
               "methodCalls": [["Email/query", {"accountId": account}, "q"]]}
        q = json.loads(jmap(d.ports["http"], "big@example.test", "pw-big-1234", "POST", body=json.dumps(req).encode()))
        eid = q["methodResponses"][0][1]["ids"][0]
        url = session["downloadUrl"].replace("{accountId}", account).replace("{blobId}", eid) \
            .replace("{name}", "m.eml").replace("{type}", "message/rfc822")
        url = url[url.index("/jmap/"):] if "://" in url else url
        t = time.perf_counter()
        data = jmap(d.ports["http"], "big@example.test", "pw-big-1234", "GET", url)
        dl_s = time.perf_counter() - t
        if not data.endswith(msg):
            raise RuntimeError("the raw download does not end with the message sent")
        dl_hwm = status(pid, "VmHWM:")
    finally:
        d.stop()
        shutil.rmtree(work, ignore_errors=True)
    mb = 1 << 20
    return {"idle_rss_mb": round(idle / mb, 1), "receive_growth_mb": round((rx_hwm - idle) / mb, 1),
            "download_growth_mb": round((dl_hwm - base) / mb, 1), "receive_s": round(rx_s, 2),
            "download_s": round(dl_s, 2)}


def throughput_round(build, a, tmp, template, extra_toml=""):
    work = tempfile.mkdtemp(prefix="load-", dir=tmp)
    data = os.path.join(work, "data")
    shutil.copytree(template, data)
    d = smtp_compare.Refmaild(build, data, work, "warn", extra_toml)
    pid = d.start()
    try:
        ca = argparse.Namespace(workload=a.workload, concurrency=8, limit=a.limit)
        res = smtp_compare.run_client(smtp_compare.client_cmd("ours", ca, d.ports["smtp"],
                                                              os.path.join(work, "load.json"), "mail-core", [pid]),
                                      [pid], False)
    finally:
        d.stop()
        shutil.rmtree(work, ignore_errors=True)
    return {"msg_per_s": res.get("accepted_msgs_per_s"),
            "server_cpu_ms_per_msg": res.get("outside_server_cpu_ms_per_msg"),
            "errors": res.get("errors", 0), "loadavg": smtp_compare.loadavg()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", action="append", required=True, help="NAME=BUILD_DIR (repeatable)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workload", default="", help="gen_workload.py output; throughput is skipped without it")
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    builds = [b.split("=", 1) for b in a.build]
    tmp = tempfile.mkdtemp(prefix="mail-core-bench-")
    results = {name: {"memory": [], "throughput": []} for name, _ in builds}
    try:
        msg = big_message()
        templates = {}
        if a.workload:
            for name, build in builds:
                ta = argparse.Namespace(build=build, log_level="warn", workload=a.workload)
                templates[name] = smtp_compare.prepare_template(ta, tempfile.mkdtemp(prefix="tpl-", dir=tmp))
        for r in range(a.rounds):
            for name, build in builds:
                m = memory_round(build, msg, tmp)
                results[name]["memory"].append(m)
                print(f"round {r + 1} {name} memory {m}", flush=True)
                if a.workload:
                    t = throughput_round(build, a, tmp, templates[name])
                    results[name]["throughput"].append(t)
                    print(f"round {r + 1} {name} throughput {t}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("\n| build | idle RSS MB | +MB receiving 41 MB | +MB raw download | msg/s | server CPU ms/msg |")
    print("|---|---|---|---|---|---|")
    for name, _ in builds:
        mem, thr = results[name]["memory"], results[name]["throughput"]
        col = lambda rows, k: " ".join(str(x[k]) for x in rows) or "-"
        print(f"| {name} | {col(mem, 'idle_rss_mb')} | {col(mem, 'receive_growth_mb')} | "
              f"{col(mem, 'download_growth_mb')} | {col(thr, 'msg_per_s')} | {col(thr, 'server_cpu_ms_per_msg')} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()

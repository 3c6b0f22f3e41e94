"""tests/e2e/nsd_server.py — nsd (Debian's `nsd`, an authoritative DNS server) serving
test zones on a free loopback port, started and stopped by the test that uses it.
Used by tests/e2e/test_inbound_auth.py and tests/unit/trust/test_spf_nsd.py."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

NSD = shutil.which("nsd") or "/usr/sbin/nsd"


def txt(value):
    """A TXT record's value as character-strings of at most 250 octets."""
    return " ".join('"%s"' % value[i:i + 250] for i in range(0, len(value), 250))


def free_port():
    """A port free for both UDP and TCP (nsd listens on both)."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise RuntimeError("no free port")


class Nsd:
    """nsd on 127.0.0.1:<port> serving `zones` ({origin without dot: zone text}).
    Response rate limiting is off: every client here is 127.0.0.1, and nsd's default
    (200 answers/s per source) drops answers under a benchmark's load, which a resolver
    then waits out (5 s) as a lost packet."""

    def __init__(self, zones):
        if not os.path.exists(NSD):
            raise RuntimeError("nsd is not installed (apt-get install nsd; tools/install-deps.sh --test)")
        self.work = tempfile.mkdtemp(prefix="refmail-nsd-")
        self.port = free_port()
        conf = os.path.join(self.work, "nsd.conf")
        zone_conf = ""
        for i, (name, text) in enumerate(zones.items()):
            with open(os.path.join(self.work, "z%d.zone" % i), "w") as f:
                f.write(text)
            zone_conf += 'zone:\n  name: "%s"\n  zonefile: "z%d.zone"\n' % (name, i)
        w = self.work
        with open(conf, "w") as f:
            f.write("""server:
  ip-address: 127.0.0.1
  port: %d
  do-ip6: no
  username: ""
  chroot: ""
  zonesdir: "%s"
  database: ""
  zonelistfile: "%s/zone.list"
  xfrdfile: "%s/xfrd.state"
  pidfile: "%s/nsd.pid"
  logfile: "%s/nsd.log"
  server-count: 1
  verbosity: 1
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
remote-control:
  control-enable: no
""" % (self.port, w, w, w, w, w) + zone_conf)
        self.proc = subprocess.Popen([NSD, "-d", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 15
        while True:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace")
                self.stop()
                raise RuntimeError("nsd exited: " + err)
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if time.time() > deadline:
                    self.stop()
                    raise RuntimeError("nsd did not start on port %d" % self.port)
                time.sleep(0.1)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()  # the nsd this object started, by its own handle
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stderr.close()
        shutil.rmtree(self.work, ignore_errors=True)

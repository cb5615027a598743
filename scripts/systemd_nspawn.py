#!/usr/bin/env python3
"""genqd under a real systemd as PID 1: boots a Debian 12 container (systemd-nspawn -b) with
genq's .deb installed and checks, with systemd doing the work, what genqd.service declares.

Run through scripts/systemd_nspawn.sh, which builds the .deb and the cached base tree:
    systemd_nspawn.py --base BASE_TREE --deb GENQ.deb --bin-dir BUILD --work WORKDIR

The container shares the host's network namespace, so genqd inside reaches the stand-in
(genq-fakeapi, HTTPS with a throwaway CA) on 127.0.0.1. Prints one line per check with its
figures and exits 1 when any check fails.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SOURCE_DIR / "tests" / "integration"))
from fakeapi import FakeApi  # noqa: E402
from images import make_png  # noqa: E402

KEY = "nspawn-key-0"
WATCHDOG_SEC = 4      # a drop-in shortens the unit's WatchdogSec=30 so the check is quick
STOP_TIMEOUT = 10     # the unit's TimeoutStopSec=
EXPOSURE_BUDGET = 2.0
CONFIG = """\
log_level = "{log_level}"
[api]
base_url = "{base_url}"
ca_file = "/etc/genq/stand-in-ca.pem"
timeout = 5
[[keys]]
name = "main"
credential = "main"
[limits]
requests_per_window = {rpw}
window = 1
poll_interval = 0.5
lockout = 2
[retry]
base_delay = 0.1
max_delay = 1
[[watch]]
dir = "/var/lib/genq/inbox"
kind = "video"
"""


class Failed(Exception):
    pass


def wait_until(what, predicate, timeout, step=0.1):
    """Returns predicate()'s first truthy value; Failed after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Failed("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(step)


class Container:
    """A booted systemd-nspawn container over `tree`; run() executes commands inside it."""

    def __init__(self, tree, log_path):
        self.tree = Path(tree)
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            ["systemd-nspawn", "-D", str(tree), "--keep-unit", "--register=no", "-b",
             "--console=passive", "--machine=genq-nspawn"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.leader = wait_until("the container's systemd", self._find_systemd, 60)

    def _find_systemd(self):
        if self.proc.poll() is not None:
            raise Failed("systemd-nspawn exited with %s" % self.proc.returncode)
        pending = [self.proc.pid]
        while pending:
            pid = pending.pop()
            try:
                if Path("/proc/%d/comm" % pid).read_text().strip() == "systemd" and \
                        pid != self.proc.pid:
                    return pid
                children = Path("/proc/%d/task/%d/children" % (pid, pid)).read_text().split()
            except OSError:
                continue
            pending += [int(c) for c in children]
        return None

    def run(self, *cmd, check=True, timeout=60, input=None):
        r = subprocess.run(["nsenter", "-t", str(self.leader), "-m", "-u", "-i", "-n", "-p", "-C",
                            "--"] + list(cmd), capture_output=True, text=True, timeout=timeout,
                           input=input)
        if check and r.returncode != 0:
            raise Failed("`%s` -> %d: %s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
        return r

    def show(self, unit, *props):
        out = self.run("systemctl", "show", unit, "-p", ",".join(props)).stdout
        return dict(ln.split("=", 1) for ln in out.splitlines() if "=" in ln)

    def main_pid(self):
        return int(self.show("genqd.service", "MainPID")["MainPID"])

    def wait_booted(self, timeout=90):
        def state():
            r = self.run("systemctl", "is-system-running", check=False)
            s = r.stdout.strip()
            return s if s in ("running", "degraded") else None
        return wait_until("multi-user (systemctl is-system-running)", state, timeout, 0.3)

    def poweroff(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # nspawn asks the container's systemd to halt
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Checks:
    def __init__(self, diagnose=None):
        self.results = []
        self.diagnose = diagnose  # printed after a failure: what the journal said

    def run(self, name, fn):
        t0 = time.monotonic()
        try:
            detail = fn() or ""
            self.results.append((name, True))
            print("ok    %-34s %s" % (name, detail), flush=True)
        except (Failed, AssertionError, subprocess.TimeoutExpired, OSError, ValueError) as e:
            self.results.append((name, False))
            print("FAIL  %-34s %s (after %.1f s)" % (name, e, time.monotonic() - t0), flush=True)
            if self.diagnose:
                print(self.diagnose(), flush=True)

    def failed(self):
        return [n for n, ok in self.results if not ok]


class Session:
    """The checks, in an order where each leaves genqd running for the next."""

    def __init__(self, c, api):
        self.c = c
        self.api = api
        self.jobs = []  # every job id submitted; all must end succeeded

    # ---- helpers ---------------------------------------------------------------------------
    def ctl(self, *args, timeout=60, check=True):
        # the socket as README.md's "Use it" names it (root has no $RUNTIME_DIRECTORY)
        return self.c.run("genqctl", "--socket", "/run/genq/genq.sock", *args, timeout=timeout,
                          check=check)

    def submit(self, count, prefix):
        paths = []
        for i in range(count):
            rel = "root/%s%03d.png" % (prefix, i)
            (self.c.tree / rel).write_bytes(make_png(1024, 576, seed=len(self.jobs) + i))
            paths.append("/" + rel)
        ids = self.ctl("submit", *paths).stdout.split()
        assert len(ids) == count, ids
        self.jobs += ids
        return ids

    def write_config(self, rpw=10, log_level="info", text=None):
        cfg = text if text is not None else CONFIG.format(base_url=self.api.base_url, rpw=rpw,
                                                          log_level=log_level)
        (self.c.tree / "etc/genq/genq.toml").write_text(cfg)

    def active(self):
        s = self.c.show("genqd.service", "ActiveState", "SubState")
        return s["ActiveState"] == "active" and s["SubState"] == "running"

    def journal(self, *args):
        out = self.c.run("journalctl", "-u", "genqd.service", "-o", "json", "--no-pager",
                         *args).stdout
        return [json.loads(ln) for ln in out.splitlines() if ln.strip()]

    def genqd_lines(self):
        return [e for e in self.journal() if e.get("SYSLOG_IDENTIFIER") == "genqd"]

    # ---- checks ----------------------------------------------------------------------------
    def start(self):
        t0 = time.monotonic()
        self.c.run("systemctl", "start", "genqd.service")
        took = time.monotonic() - t0
        s = self.c.show("genqd.service", "Type", "ActiveState", "SubState", "StatusText",
                        "NotifyAccess")
        assert s["Type"] == "notify" and s["ActiveState"] == "active" and \
            s["SubState"] == "running", s
        # Type=notify: `systemctl start` returned only after genqd's READY=1; its STATUS= is
        # the proof the notification came from genqd.
        assert "queued" in s["StatusText"], s
        return "Type=notify, start returned after READY=1 in %.2f s; Status: %s" % (
            took, s["StatusText"])

    def hardening(self):
        pid = self.c.main_pid()
        status = dict(ln.split(":", 1) for ln in
                      self.c.run("cat", "/proc/%d/status" % pid).stdout.splitlines() if ":" in ln)
        st = {k: v.strip() for k, v in status.items()}
        zero = "0" * 16
        assert st["NoNewPrivs"] == "1", st["NoNewPrivs"]
        assert st["Seccomp"] == "2", st["Seccomp"]  # 2 = filter mode
        for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            assert st[cap] == zero, (cap, st[cap])
        uid = st["Uid"].split()[0]
        genq_uid = self.c.run("id", "-u", "genq").stdout.strip()
        assert uid == genq_uid, (uid, genq_uid)
        return "uid %s (genq), NoNewPrivs 1, Seccomp 2 (filter, %s filters), CapEff/Prm/Bnd %s" % (
            uid, st.get("Seccomp_filters", "?"), zero)

    def sandbox_writes(self):
        """Writes from inside genqd's own mount namespace (ProtectSystem=strict, ProtectHome=,
        PrivateTmp=): refused with EROFS even where the same user may write outside it."""
        pid = self.c.main_pid()
        uid = self.c.run("id", "-u", "genq").stdout.strip()
        gid = self.c.run("id", "-g", "genq").stdout.strip()
        # A directory outside genqd's own that the genq user owns: writable outside the unit.
        self.c.run("install", "-d", "-o", "genq", "-g", "genq", "/var/genq-probe")
        as_genq = ["-S", uid, "-G", gid]

        def write(path, inside, user):
            ns = ["nsenter", "-t", str(pid), "-m"] if inside else ["nsenter", "-t", "1", "-m"]
            r = self.c.run(*(ns + (as_genq if user == "genq" else []) +
                             ["--", "sh", "-c", "echo x > %s && rm %s" % (path, path)]),
                           check=False)
            return r.returncode == 0, r.stderr.strip().rsplit(":", 1)[-1].strip()
        refused = []
        for path, user in (("/var/genq-probe/x", "genq"), ("/var/probe", "root"),
                           ("/usr/probe", "root"), ("/etc/probe", "root")):
            ok_outside, why = write(path, False, user)
            assert ok_outside, "%s cannot write %s even outside the unit: %s" % (user, path, why)
            ok_inside, why = write(path, True, user)
            assert not ok_inside, "%s wrote %s inside genqd's namespace" % (user, path)
            assert "Read-only" in why, (path, why)
            refused.append("%s as %s" % (path, user))
        for path in ("/var/lib/genq/probe", "/run/genq/probe"):
            ok, why = write(path, True, "genq")
            assert ok, "genqd's own %s not writable: %s" % (path, why)
        home = self.c.run("nsenter", "-t", str(pid), "-m", "--", "ls", "-A", "/home", "/root",
                          check=False)
        assert home.returncode != 0 or home.stdout.split() == ["/home:", "/root:"], home.stdout
        self.c.run("rm", "-r", "/var/genq-probe")
        return "read-only inside, writable outside: %s; /var/lib/genq, /run/genq writable; " \
               "/home, /root empty" % ", ".join(refused)

    def job_runs(self):
        t0 = time.monotonic()
        ids = self.submit(2, "first")
        self.ctl("wait", *ids, "--timeout", "60", timeout=90)
        took = time.monotonic() - t0
        gens = self.api.generations()
        for i in ids:
            j = json.loads(self.ctl("--json", "status", i).stdout)
            assert j["state"] == "succeeded", j
            out = self.c.tree / j["output"].lstrip("/")
            assert hashlib.sha256(out.read_bytes()).hexdigest() == gens[j["remote_id"]]["sha256"]
        return "%d jobs succeeded against the stand-in in %.1f s, outputs match" % (len(ids), took)

    def credential(self):
        pid = self.c.main_pid()
        env = self.c.run("cat", "/proc/%d/environ" % pid).stdout
        creds = [v for v in env.split("\0") if v.startswith("CREDENTIALS_DIRECTORY=")]
        assert creds, "no $CREDENTIALS_DIRECTORY in genqd's environment"
        assert KEY not in env, "the key is in genqd's environment"
        assert KEY not in (self.c.tree / "etc/genq/genq.toml").read_text()
        cdir = creds[0].split("=", 1)[1]
        # The credential lives in the service's own (ramfs) mount, readable only there.
        key = self.c.run("nsenter", "-t", str(pid), "-m", "--", "cat", cdir + "/main").stdout
        assert key.strip() == KEY, "credential content differs"
        used = {e.get("key") for e in self.api.log_entries() if e.get("key") is not None}
        assert used, "the stand-in saw no authenticated request"
        return "key read from %s/main (LoadCredential=), not in config or environment" % cdir

    def reload(self):
        before = json.loads(self.ctl("--json", "keys").stdout)[0]["requests_per_window"]
        self.write_config(rpw=7)
        t0 = time.monotonic()
        self.c.run("systemctl", "reload", "genqd.service")
        took = time.monotonic() - t0
        after = json.loads(self.ctl("--json", "keys").stdout)[0]["requests_per_window"]
        assert (before, after) == (10, 7), (before, after)
        # A file with an error: reload fails, the unit stays active on the old configuration.
        self.write_config(text="[limits]\nrequests_per_window = -1\n")
        bad = self.c.run("systemctl", "reload", "genqd.service", check=False)
        assert bad.returncode != 0, "reload of an invalid config succeeded"
        assert self.active(), "genqd not active after a refused reload"
        kept = json.loads(self.ctl("--json", "keys").stdout)[0]["requests_per_window"]
        assert kept == 7, kept
        # SIGHUP still reloads (systemctl kill needs no procps either).
        self.write_config(rpw=10)
        n0 = sum("configuration reloaded" in e.get("MESSAGE", "") for e in self.genqd_lines())
        self.c.run("systemctl", "kill", "-s", "HUP", "--kill-who=main", "genqd.service")
        wait_until("SIGHUP reload", lambda: json.loads(
            self.ctl("--json", "keys").stdout)[0]["requests_per_window"] == 10, 20)
        n1 = sum("configuration reloaded" in e.get("MESSAGE", "") for e in self.genqd_lines())
        assert n1 == n0 + 1, (n0, n1)
        exec_reload = self.c.show("genqd.service", "ExecReload")["ExecReload"]
        path = re.search(r"path=(\S+)", exec_reload).group(1)
        # The check is not vacuous: the former ExecReload=/bin/kill fails on this minimal tree.
        old = self.c.tree / "etc/systemd/system/genqd.service.d/old-reload.conf"
        old.write_text("[Service]\nExecReload=\nExecReload=/bin/kill -HUP $MAINPID\n")
        self.c.run("systemctl", "daemon-reload")
        former = self.c.run("systemctl", "reload", "genqd.service", check=False)
        old.unlink()
        self.c.run("systemctl", "daemon-reload")
        assert former.returncode != 0, "ExecReload=/bin/kill worked: procps is in the tree"
        assert self.active()
        return "ExecReload=%s: limit 10 -> 7 in %.2f s; invalid file refused (rc %d), " \
               "still active; SIGHUP 7 -> 10; the former /bin/kill fails here (rc %d)" % (
                   path, took, bad.returncode, former.returncode)

    def journald(self):
        lines = self.genqd_lines()
        prio = {}
        for e in lines:
            prio[e["PRIORITY"]] = prio.get(e["PRIORITY"], 0) + 1
        # the refused reload above logged at error (3); normal operation at info (6)
        assert prio.get("6") and prio.get("3"), prio
        errors = [e["MESSAGE"] for e in lines if e["PRIORITY"] == "3"]
        assert any("configuration not reloaded" in m for m in errors), errors
        assert not any(re.match(r"<\d>", e["MESSAGE"]) for e in lines), \
            "a <N> prefix reached the journal unparsed"
        names = {"3": "err", "4": "warning", "6": "info", "7": "debug"}
        return "%d genqd lines: %s" % (len(lines), ", ".join(
            "%s %d" % (names.get(p, p), n) for p, n in sorted(prio.items())))

    def watchdog(self):
        ids = self.submit(3, "watchdog")
        pid = self.c.main_pid()
        n0 = int(self.c.show("genqd.service", "NRestarts")["NRestarts"])
        t0 = time.monotonic()
        self.c.run("systemctl", "kill", "-s", "STOP", "--kill-who=main", "genqd.service")

        def restarted():
            s = self.c.show("genqd.service", "MainPID", "NRestarts", "ActiveState", "SubState")
            return int(s["NRestarts"]) > n0 and s["SubState"] == "running" and \
                int(s["MainPID"]) not in (0, pid) and s
        s = wait_until("a watchdog restart", restarted, WATCHDOG_SEC + STOP_TIMEOUT + 30)
        took = time.monotonic() - t0
        msgs = [e.get("MESSAGE", "") for e in self.journal()]
        assert any("Watchdog timeout" in m for m in msgs), "no watchdog timeout in the journal"
        self.ctl("wait", *ids, "--timeout", "60", timeout=90)
        return "SIGSTOPped pid %d: watchdog timeout (WatchdogSec=%d), pid %s running %.1f s " \
               "later; its 3 jobs succeeded" % (pid, WATCHDOG_SEC, s["MainPID"], took)

    def stop(self):
        # Slow generations so that jobs are in flight when the stop comes.
        ids = self.submit(6, "stop")
        wait_until("a running job", lambda: any(
            j["state"] == "running" for j in
            json.loads(self.ctl("--json", "list").stdout)["jobs"]), 30)
        t0 = time.monotonic()
        self.c.run("systemctl", "stop", "genqd.service", timeout=STOP_TIMEOUT + 20)
        took = time.monotonic() - t0
        s = self.c.show("genqd.service", "ActiveState", "Result", "ExecMainStatus")
        assert s["ActiveState"] == "inactive" and s["Result"] == "success", s
        assert took < STOP_TIMEOUT, took
        self.c.run("systemctl", "start", "genqd.service")
        self.ctl("wait", *ids, "--timeout", "90", timeout=120)
        return "stopped in %.2f s (TimeoutStopSec=%d, Result=%s); after a start its %d jobs " \
               "succeeded" % (took, STOP_TIMEOUT, s["Result"], len(ids))

    def socket_activation(self):
        self.c.run("systemctl", "stop", "genqd.service")
        self.c.run("systemctl", "start", "genqd.socket")
        assert self.c.show("genqd.service", "ActiveState")["ActiveState"] == "inactive"
        t0 = time.monotonic()
        out = self.ctl("--json", "status", timeout=60).stdout  # this connection starts genqd
        took = time.monotonic() - t0
        json.loads(out)
        s = self.c.show("genqd.service", "ActiveState", "TriggeredBy")
        assert s["ActiveState"] == "active" and "genqd.socket" in s["TriggeredBy"], s
        pid = self.c.main_pid()
        fds = self.c.run("ls", "-l", "/proc/%d/fd/3" % pid).stdout
        assert "socket:" in fds, fds
        ids = self.submit(1, "activated")
        self.ctl("wait", *ids, "--timeout", "60", timeout=90)
        return "genqctl status on the socket started genqd in %.2f s (TriggeredBy=%s, fd 3)" % (
            took, s["TriggeredBy"])

    def nothing_lost(self):
        jobs = json.loads(self.ctl("--json", "list", "--limit", "1000").stdout)["jobs"]
        listed = {j["id"]: j["state"] for j in jobs}
        missing = [i for i in self.jobs if i not in listed]
        bad = {i: listed[i] for i in self.jobs if i in listed and listed[i] != "succeeded"}
        assert not missing and not bad, (missing, bad)
        return "all %d jobs submitted across restarts, stops and the watchdog succeeded" % len(
            self.jobs)

    def security(self):
        r = self.c.run("systemd-analyze", "security", "--no-pager", "genqd.service")
        m = re.search(r"Overall exposure level for genqd\.service: ([0-9.]+) (\S+)", r.stdout)
        assert m, r.stdout
        exposure = float(m.group(1))
        assert exposure <= EXPOSURE_BUDGET, r.stdout
        return "exposure of the running unit %.1f %s (budget %.1f)" % (exposure, m.group(2),
                                                                        EXPOSURE_BUDGET)


def prepare_tree(tree, deb, api):
    """Installs the .deb into the stopped tree and writes the config, key and CA."""
    shutil.copy(deb, tree / "root/genq.deb")
    r = subprocess.run(["systemd-nspawn", "-D", str(tree), "--keep-unit", "--register=no",
                        "--pipe", "dpkg", "-i", "/root/genq.deb"],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise Failed("dpkg -i genq.deb in the tree: %s%s" % (r.stdout, r.stderr))
    keys = tree / "etc/genq/keys"
    keys.mkdir(mode=0o700, exist_ok=True)
    (keys / "main").write_text(KEY + "\n")
    os.chmod(keys / "main", 0o600)
    shutil.copy(api.ca_file, tree / "etc/genq/stand-in-ca.pem")
    (tree / "etc/genq/genq.toml").write_text(CONFIG.format(base_url=api.base_url, rpw=10,
                                                           log_level="info"))
    dropin = tree / "etc/systemd/system/genqd.service.d"
    dropin.mkdir(parents=True, exist_ok=True)
    (dropin / "nspawn-test.conf").write_text("[Service]\nWatchdogSec=%d\n" % WATCHDOG_SEC)
    return r.stdout.count("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tree", required=True, help="a throwaway copy of the base tree")
    ap.add_argument("--deb", required=True)
    ap.add_argument("--bin-dir", required=True, help="build dir with tests/genq-fakeapi")
    ap.add_argument("--work", required=True, help="scratch directory (stand-in, logs)")
    a = ap.parse_args()
    tree, work = Path(a.tree), Path(a.work)
    checks = Checks()
    with FakeApi(a.bin_dir, work / "fakeapi", keys=[KEY], gen_time=1.0, limit=10, window=1,
                 lockout=2, poll_interval=0.5) as api:
        prepare_tree(tree, a.deb, api)
        t0 = time.monotonic()
        c = Container(tree, work / "nspawn.log")
        try:
            state = c.wait_booted()
            version = c.run("cat", "/etc/debian_version").stdout.strip()
            print("      booted Debian %s to multi-user in %.1f s (%s), systemd %s" % (
                version, time.monotonic() - t0, state,
                c.run("systemctl", "--version").stdout.split()[1]), flush=True)
            s = Session(c, api)
            checks.diagnose = lambda: c.run("journalctl", "-u", "genqd.service", "-u",
                                            "genqd.socket", "-n", "25", "--no-pager",
                                            check=False).stdout
            checks.run("start: active after READY=1", s.start)
            checks.run("hardening in /proc/PID/status", s.hardening)
            checks.run("writes outside its directories", s.sandbox_writes)
            checks.run("a job runs (stand-in, HTTPS)", s.job_runs)
            checks.run("key through LoadCredential", s.credential)
            checks.run("systemctl reload", s.reload)
            checks.run("journald priorities", s.journald)
            checks.run("watchdog restarts a hung genqd", s.watchdog)
            checks.run("systemctl stop, nothing lost", s.stop)
            checks.run("socket activation", s.socket_activation)
            checks.run("every job succeeded", s.nothing_lost)
            checks.run("systemd-analyze security", s.security)
        finally:
            c.poweroff()
    bad = checks.failed()
    print("systemd_nspawn: %d checks, %d failed%s" % (len(checks.results), len(bad),
                                                       (": " + ", ".join(bad)) if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

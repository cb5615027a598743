"""A throwaway PostgreSQL server for the shared-store tests: its own cluster in a temporary
directory, on a free loopback port, trust authentication, user `genq`. As root it runs as the
`postgres` system user (the server refuses root). Started and stopped by its own pid only."""

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path


def pg_bin_dir():
    """The newest installed server's bin directory, or None (the tests then skip)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    return Path(found[-1]).parent if found else None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PortTaken(Exception):
    """postgres could not bind its port: someone took it after free_port() found it free."""


class PgServer:
    def __init__(self, workdir):
        self.bin = pg_bin_dir()
        if self.bin is None:
            raise RuntimeError("no PostgreSQL server installed")
        self.dir = Path(workdir) / "pgdata"
        self.port = free_port()
        self.log_path = Path(workdir) / "postgres.log"
        self.proc = None
        self.user = None
        self.restarts_keep_port = False
        if os.geteuid() == 0:
            self.user = "postgres"
            Path(workdir).chmod(0o755)

    def conninfo(self):
        return "host=127.0.0.1 port=%d user=genq" % self.port

    def url(self, dbname):
        return "postgresql://genq@127.0.0.1:%d/%s" % (self.port, dbname)

    def _run(self, args, **kw):
        return subprocess.run(args, user=self.user, check=True, capture_output=True, text=True,
                              **kw)

    def start(self, timeout=60):
        """Starts the server. A free port is only a guess (another test may take it between the
        probe and postgres's bind): on "could not bind" it starts again on a new port, and
        pg_isready answering is not enough, the server on the port must be this one."""
        for attempt in range(5):
            try:
                return self._start_once(timeout)
            except PortTaken:
                if self.restarts_keep_port:
                    raise
                self.port = free_port()
        raise RuntimeError("postgres: no free port after 5 tries:\n" + self.log())

    def _start_once(self, timeout):
        if not self.dir.exists():
            self.dir.mkdir(mode=0o700)
            if self.user:
                pw = pwd.getpwnam(self.user)
                os.chown(self.dir, pw.pw_uid, pw.pw_gid)
                Path(self.log_path).touch()
                os.chown(self.log_path, pw.pw_uid, pw.pw_gid)
            self._run([str(self.bin / "initdb"), "-D", str(self.dir), "-A", "trust", "-U", "genq",
                       "--no-sync", "-E", "UTF8"])
        logged = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.logf = open(self.log_path, "ab")
        # fsync stays on: the tests kill things and expect commits to hold.
        self.proc = subprocess.Popen(
            [str(self.bin / "postgres"), "-D", str(self.dir), "-h", "127.0.0.1",
             "-p", str(self.port), "-k", str(self.dir), "-c", "max_connections=200"],
            user=self.user, stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.logf.close()
                self.proc = None
                tail = self.log()[logged:]
                if "could not bind" in tail or "Address already in use" in tail:
                    raise PortTaken(tail)
                raise RuntimeError("postgres exited:\n" + self.log())
            r = subprocess.run([str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p",
                                str(self.port), "-q"])
            if r.returncode == 0 and self._is_ours():
                self.restarts_keep_port = True  # a daemon's configuration names this port now
                return self
            time.sleep(0.1)
        raise RuntimeError("postgres did not start:\n" + self.log())

    def _is_ours(self):
        """Whether the server answering on self.port runs on self.dir (not another test's)."""
        r = subprocess.run([str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port),
                            "-U", "genq", "-d", "postgres", "-At", "-c", "SHOW data_directory"],
                           capture_output=True, text=True)
        return r.returncode == 0 and Path(r.stdout.strip()).resolve() == self.dir.resolve()

    def createdb(self, name):
        subprocess.run([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", "genq", name], check=True, capture_output=True)

    def psql(self, dbname, sql):
        r = subprocess.run([str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port),
                            "-U", "genq", "-d", dbname, "-At", "-c", sql],
                           check=True, capture_output=True, text=True)
        return r.stdout.strip()

    def stop(self, sig=signal.SIGINT):
        """SIGINT: PostgreSQL's fast shutdown (connections dropped, clean stop)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.logf.close()
            self.proc = None

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

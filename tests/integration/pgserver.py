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
        if not self.dir.exists():
            self.dir.mkdir(mode=0o700)
            if self.user:
                pw = pwd.getpwnam(self.user)
                os.chown(self.dir, pw.pw_uid, pw.pw_gid)
                Path(self.log_path).touch()
                os.chown(self.log_path, pw.pw_uid, pw.pw_gid)
            self._run([str(self.bin / "initdb"), "-D", str(self.dir), "-A", "trust", "-U", "genq",
                       "--no-sync", "-E", "UTF8"])
        self.logf = open(self.log_path, "ab")
        # fsync stays on: the tests kill things and expect commits to hold.
        self.proc = subprocess.Popen(
            [str(self.bin / "postgres"), "-D", str(self.dir), "-h", "127.0.0.1",
             "-p", str(self.port), "-k", str(self.dir), "-c", "max_connections=200"],
            user=self.user, stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("postgres exited:\n" + self.log())
            r = subprocess.run([str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p",
                                str(self.port), "-q"])
            if r.returncode == 0:
                return self
            time.sleep(0.1)
        raise RuntimeError("postgres did not start:\n" + self.log())

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

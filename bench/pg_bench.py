#!/usr/bin/env python3
"""Starts a throwaway PostgreSQL 15 server (tests/integration/pgserver.py) and runs
build/tests/genq_pg_bench against it: round trip, claim, and per-key reservations from three
nodes. Prints numbers; asserts nothing. Usage: bench/pg_bench.py [build-dir]"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from pgserver import PgServer, pg_bin_dir  # noqa: E402


def main():
    build = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "build"
    if pg_bin_dir() is None:
        print("no PostgreSQL server installed (apt-get install postgresql)")
        return 2
    with tempfile.TemporaryDirectory(prefix="genq-pgbench-") as tmp, PgServer(tmp) as pg:
        pg.createdb("bench")
        env = dict(os.environ, GENQ_PG_CONNINFO=pg.conninfo() + " dbname=bench")
        return subprocess.run([str(build / "tests" / "genq_pg_bench")], env=env).returncode


if __name__ == "__main__":
    sys.exit(main())

"""The storage interface's contract against a real PostgreSQL 15 server started here (the same
cases run against SQLite in genq_unit): jobs, guarded transitions with their events, queue order,
listing, content-addressed inputs in the database, the send log and lock-outs; migrations by the
first node; two nodes on their own connections claiming one queue, each job exactly once.
Skips (passes with a line saying so) when no PostgreSQL server is installed."""

import os
import re
import subprocess
import sys
from pathlib import Path

from genqtest import BIN_DIR, run_tests
from pgserver import PgServer, pg_bin_dir

UNIT = BIN_DIR / "tests" / "genq_unit"


def test_store_contract_on_postgresql(tmp):
    with PgServer(tmp) as pg:
        env = dict(os.environ, GENQ_TEST_PG_CONNINFO=pg.conninfo())
        r = subprocess.run([str(UNIT), "--test-suite=store contract", "--success=false"],
                           env=env, capture_output=True, text=True, timeout=300, cwd=BIN_DIR)
        print(r.stdout[-3000:])
        assert r.returncode == 0, r.stdout + r.stderr
        assert "skipped: no PostgreSQL" not in r.stdout, "the PostgreSQL cases did not run"
        # Every case of the suite ran and passed (the "pg:" ones too): as many as the file has.
        cases = (Path(__file__).resolve().parents[1] / "unit" / "test_store_contract.cpp") \
            .read_text().count("TEST_CASE(")
        assert re.search(r"test cases: +%d \| +%d passed" % (cases, cases), r.stdout), r.stdout


if __name__ == "__main__":
    if pg_bin_dir() is None:
        print("SKIP: no PostgreSQL server installed (apt-get install postgresql)")
        print("0 passed, 0 failed")
        sys.exit(0)
    run_tests([test_store_contract_on_postgresql])

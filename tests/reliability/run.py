"""The reliability suite as one command, on SQLite and PostgreSQL; prints the table of counts.

    python tests/reliability/run.py --files 1000 --kills 10 --decisions 1000 [--backends sqlite,postgresql]
        [--parts fuzz,kill,concurrency] [--json results.json]

PostgreSQL: BETAG_TEST_POSTGRES_URL, else a throwaway server (scripts/test-postgres.sh) when installed.
tests/reliability/test_*.py run the same code on a sample (200 files, fewer kills and decisions) in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(HERE)]


def _databases(backend: str, folder: Path, server: dict):
    """A function giving fresh migrated database URLs on ``backend``."""
    from db.migrate import upgrade_head

    def make() -> str:
        if backend == "sqlite":
            url = f"sqlite:///{folder / f'{uuid.uuid4().hex[:8]}.sqlite'}"
        else:
            from sqlalchemy import create_engine
            from sqlalchemy.engine import make_url

            if "url" not in server:
                server["url"] = os.environ.get("BETAG_TEST_POSTGRES_URL") or _start_postgres(server)
            name = f"r_{uuid.uuid4().hex[:10]}"
            admin = create_engine(server["url"], isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE template0")
            admin.dispose()
            url = make_url(server["url"]).set(database=name).render_as_string(hide_password=False)
        upgrade_head(url)
        return url

    return make


def _start_postgres(server: dict) -> str:
    server["dir"] = tempfile.mkdtemp(prefix="betag-reliability-pg-")
    out = subprocess.run(["bash", str(ROOT / "scripts/test-postgres.sh"), "start", server["dir"]], capture_output=True,
                         text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000, help="Malformed files in the fuzz corpus.")
    parser.add_argument("--kills", type=int, default=10, help="kill -9 points of a real job.")
    parser.add_argument("--decisions", type=int, default=1000, help="Decisions per reviewer.")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--parts", default="fuzz,kill,concurrency")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--json", help="Write the results here too.")
    args = parser.parse_args()
    server: dict = {}
    results: dict = {}
    work = Path(tempfile.mkdtemp(prefix="betag-reliability-"))
    try:
        for backend in args.backends.split(","):
            make = _databases(backend, work, server)
            results[backend] = {}
            if "fuzz" in args.parts:
                from fuzz import run_corpus

                start = time.perf_counter()
                counts = run_corpus(make(), work / f"corpus-{backend}", args.files, seed=args.seed)
                results[backend]["fuzz"] = {**asdict(counts), "seconds": round(time.perf_counter() - start, 1)}
                _show(backend, "fuzz", results[backend]["fuzz"])
            if "kill" in args.parts:
                from kill import kill_points

                results[backend]["kill"] = kill_points(make, work / f"kill-{backend}", args.kills, seed=args.seed)
                _show(backend, "kill", results[backend]["kill"])
            if "concurrency" in args.parts:
                from concurrency import run_all

                results[backend]["concurrency"] = run_all(make, work / f"conc-{backend}", args.decisions)
                _show(backend, "concurrency", results[backend]["concurrency"])
    finally:
        if "dir" in server:
            subprocess.run(["bash", str(ROOT / "scripts/test-postgres.sh"), "stop", server["dir"]], check=False)
            shutil.rmtree(server["dir"], ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    return 0


def _show(backend: str, part: str, values: dict) -> None:
    shown = {k: v for k, v in values.items() if k != "failures"}
    print(f"[{backend}] {part}: {json.dumps(shown, default=str)}", flush=True)
    for line in values.get("failures", [])[:20]:
        print(f"    {line}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())

"""Import at catalog scale: build the synthetic catalog (seeded) and import it into a fresh database.

    python tests/reliability/import_scale.py --items 100000 --users 50000 --interactions 1000000 --folder /tmp/scale

Prints the import's time, how long the publishing transaction held the write lock, and the process's peak RSS
(``resource``); run it under ``/usr/bin/time -v`` for the same figure from outside. ``--url`` imports into another
database (e.g. a PostgreSQL server); ``--generate-only`` just writes the files.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--folder", default="/tmp/betag-scale")
    parser.add_argument("--url", help="Database URL (default: a fresh SQLite file in --folder).")
    parser.add_argument("--generate-only", action="store_true")
    args = parser.parse_args()
    folder = Path(args.folder)
    paths = {"items": folder / "items.csv", "interactions": folder / "interactions.csv"}
    if not all(p.exists() for p in paths.values()):
        from synthetic import write_catalog

        start = time.perf_counter()
        paths = write_catalog(folder, args.items, args.users, args.interactions)
        print(f"generated in {time.perf_counter() - start:.1f} s: {paths['items']}, {paths['interactions']}")
    if args.generate_only:
        return 0
    from betag_engine.catalog.importer import import_files
    from db.migrate import upgrade_head

    url = args.url
    if url is None:
        db = folder / "scale.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        url = f"sqlite:///{db}"
    upgrade_head(url)
    start = time.perf_counter()
    summary = import_files(url, paths["items"], paths["interactions"], progress=lambda n: print(n, flush=True))
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"import: {seconds:.1f} s, publish (write lock held) {summary.publish_seconds:.1f} s, "
          f"peak RSS {peak_mb:.0f} MB, {summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

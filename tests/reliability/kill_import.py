"""kill -9 of an import (``python -m betag_engine import``) at several points: the catalog is always what it was
before the import or what the whole import makes it, never a part of it; a rerun after the kills imports it all.

The kill points are spread over the run (start-up, reading and staging the files, publishing); which phase a
kill lands in depends on the machine's speed, so the check is the invariant, not a phase.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[2]


def _counts(url: str) -> tuple[int, int, int]:
    from db.models import Interaction, Item, ItemTag
    from db.session import session_scope

    with session_scope(url) as s:
        return tuple(int(s.scalar(select(func.count()).select_from(t))) for t in (Item, Interaction, ItemTag))


def kill_import(url: str, folder: Path, delays: tuple[float, ...], items: int = 3000, users: int = 2000,
                interactions: int = 60000) -> dict:
    """Import a synthetic catalog into ``url`` (already holding a small one), killing the process after each of
    ``delays`` seconds; then import it uninterrupted. Returns what each kill left and the final counts."""
    from synthetic import write_catalog

    seed_files = write_catalog(folder / "seed", 20, 10, 60, seed=1)
    files = write_catalog(folder / "big", items, users, interactions, seed=2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BETAG_")}
    env.update(BETAG_DATABASE_URL=url, BETAG_DATA_DIR=str(folder / "data"))

    def command(paths):
        return [sys.executable, "-m", "betag_engine", "import", "--items", str(paths["items"]), "--interactions",
                str(paths["interactions"])]

    subprocess.run(command(seed_files), env=env, cwd=ROOT, check=True, capture_output=True, timeout=600)
    before = _counts(url)
    left = []
    for delay in delays:
        proc = subprocess.Popen(command(files), env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(delay)
        finished = proc.poll() is not None
        if not finished:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        left.append({"delay": delay, "finished_first": finished, "counts": _counts(url)})
        if finished:
            break
    subprocess.run(command(files), env=env, cwd=ROOT, check=True, capture_output=True, timeout=600)
    return {"before": before, "after_kills": left, "final": _counts(url)}

"""kill -9 at random points of a real job: a base-tags job (``python -m betag_engine generate base``) over a tiny
random model (tests/tagging/tiny_model.py) on the built-in catalog.

A reference run writes system ``base-ref`` uninterrupted. Then the same command for system ``base`` is started and
killed with SIGKILL, again and again: most kills land while it works (a random delay after a unit was committed),
some during start-up. After each kill, a reader (what ``python -m betag_engine jobs`` does) must see the job as
interrupted, never running; every item with a checkpoint must hold exactly its reference tags and every other item
none. Finally the same command runs to the end: one job row, done, and tags equal to the reference's.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "tagging"))

ITEMS = 30


def _command(system: str) -> list[str]:
    return [sys.executable, "-m", "betag_engine", "generate", "base", "--system", system, "--limit", str(ITEMS),
            "--batch-size", "1", "--param", "max_new_tokens=10"]


def _env(url: str, folder: Path, model: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BETAG_")}
    env.update(BETAG_DATABASE_URL=url, BETAG_DATA_DIR=str(folder / "data"), BETAG_LLM_MODEL=str(model),
               BETAG_LLM_DEVICE="cpu", BETAG_MODEL_CACHE=str(folder / "models"), BETAG_TORCH_THREADS="1",
               TOKENIZERS_PARALLELISM="false")
    return env


def _tags(url: str, system: str) -> dict[int, dict[str, float]]:
    from db.models import ItemTag, TaggingSystem
    from db.session import session_scope

    out: dict[int, dict[str, float]] = {}
    with session_scope(url) as s:
        rows = s.execute(select(ItemTag.item_id, ItemTag.tag, ItemTag.count).join(
            TaggingSystem, TaggingSystem.id == ItemTag.system_id).where(TaggingSystem.name == system))
        for item_id, tag, count in rows:
            out.setdefault(item_id, {})[tag] = count
    return out


def _job(url: str, key: str):
    from db.models import Job, JobCheckpoint
    from db.session import session_scope

    with session_scope(url) as s:
        jobs = [j for j in s.scalars(select(Job).where(Job.kind == "base-tags")) if j.params.get("system") == "base"]
        units = set(s.scalars(select(JobCheckpoint.unit).where(JobCheckpoint.job_key == key)))
    return jobs, units, len(jobs)


def kill_points(make_url, folder: Path, points: int, seed: int = 15, startup_share: float = 0.2) -> dict:
    """Run the kill -9 suite on a fresh database from ``make_url()``; returns the counts."""
    from tiny_model import build_tiny_model

    from betag_engine.catalog.movielens import import_builtin
    from betag_engine.jobs.runner import job_key, mark_dead_workers

    folder.mkdir(parents=True, exist_ok=True)
    url = make_url()
    import_builtin(url, "ml-100k")
    model = build_tiny_model(folder / "tiny-llama")
    env = _env(url, folder, model)
    subprocess.run(_command("base-ref"), env=env, cwd=ROOT, check=True, capture_output=True, timeout=600)
    reference = _tags(url, "base-ref")
    key = job_key("base-tags", {"system": "base", "limit": ITEMS, "batch_size": 1, "max_new_tokens": 10})
    rng = random.Random(seed)
    counts = {"kill_points": 0, "killed_while_working": 0, "killed_at_startup": 0, "status_correct": 0,
              "status_wrong": 0, "lost_tags": 0, "duplicated_tags": 0, "extra_job_rows": 0, "final_status": "",
              "items": ITEMS, "failures": []}
    done_before = 0
    for _ in range(points):
        proc = subprocess.Popen(_command("base"), env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        at_startup = rng.random() < startup_share
        if at_startup:
            time.sleep(rng.uniform(0.2, 4.0))
        else:
            done_before = _wait_for_progress(url, key, done_before, proc)
            time.sleep(rng.uniform(0.0, 0.25))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            counts["kill_points"] += 1
            counts["killed_at_startup" if at_startup else "killed_while_working"] += 1
        proc.wait()
        mark_dead_workers(url)  # what every reader (the jobs command, the app) does first
        jobs, units, _rows = _job(url, key)
        if any(j.status == "running" for j in jobs):
            counts["status_wrong"] += 1
            counts["failures"].append(f"job still 'running' after kill: {[(j.id, j.status) for j in jobs]}")
        else:
            counts["status_correct"] += 1
        _check_tags(url, reference, units, counts)
    subprocess.run(_command("base"), env=env, cwd=ROOT, check=True, capture_output=True, timeout=600)
    jobs, units, rows = _job(url, key)
    counts["extra_job_rows"] = rows - 1
    counts["final_status"] = ",".join(j.status for j in jobs)
    _check_tags(url, reference, units, counts, final=True)
    return counts


def _wait_for_progress(url: str, key: str, done_before: int, proc: subprocess.Popen, timeout_s: float = 120) -> int:
    """Wait until the job has committed one more unit than before (or the process ended)."""
    from db.models import JobCheckpoint
    from db.session import session_scope

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        with session_scope(url) as s:
            done = s.scalar(select(func.count()).select_from(JobCheckpoint).where(JobCheckpoint.job_key == key))
        if done > done_before:
            return done
        time.sleep(0.05)
    return done_before


def _check_tags(url: str, reference: dict, units: set[str], counts: dict, final: bool = False) -> None:
    """Every item with a checkpoint holds exactly its reference tags; every other item none."""
    got = _tags(url, "base")
    done = {int(u.split("-", 1)[1]) for u in units if u.startswith("item-")}
    for item_id in done:
        want, have = reference.get(item_id, {}), got.get(item_id, {})
        lost = set(want) - set(have)
        dup = {t for t, c in have.items() if t not in want or c != want[t]}
        counts["lost_tags"] += len(lost)
        counts["duplicated_tags"] += len(dup)
        if lost or dup:
            counts["failures"].append(f"item {item_id}: lost {sorted(lost)[:3]}, extra {sorted(dup)[:3]}")
    stray = set(got) - done
    if stray:
        counts["duplicated_tags"] += sum(len(got[i]) for i in stray)
        counts["failures"].append(f"tags without a checkpoint on items {sorted(stray)[:5]}")
    if final and len(done) != ITEMS:
        counts["lost_tags"] += sum(len(t) for i, t in reference.items() if i not in done)
        counts["failures"].append(f"final run: {len(done)} of {ITEMS} items checkpointed")

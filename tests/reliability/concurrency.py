"""Two writers at once, as separate processes on one database: import x import, import x job, reviewer x reviewer.

Each part reports crashes (a writer that exited with an error), lost and duplicated rows against the exact totals
the inputs imply, and for the reviewers lost updates (a decision that succeeded but whose effect is missing, or an
item whose review_version is not the number of decisions that claimed it).

    python tests/reliability/concurrency.py review URL REVIEWER DECISIONS SEED OUT.json   (one reviewer process)
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

from sqlalchemy import func, select

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(HERE), str(ROOT / "tests" / "tagging")]


def _env(url: str, folder: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BETAG_")}
    env.update(BETAG_DATABASE_URL=url, BETAG_DATA_DIR=str(folder / "data"), TOKENIZERS_PARALLELISM="false", **extra)
    return env


def _import_cmd(items: Path, interactions: Path) -> list[str]:
    return [sys.executable, "-m", "betag_engine", "import", "--items", str(items), "--interactions", str(interactions)]


def _expected(files: list[tuple[Path, Path]]) -> dict[str, int]:
    """Exact totals of importing all ``files`` (the union of their rows)."""
    items: dict[str, list[str]] = {}
    inter, users = set(), set()
    for items_path, inter_path in files:
        with items_path.open(newline="") as fh:
            for row in csv.DictReader(fh):
                items[row["item_id"]] = [t for t in row["tags"].split("|") if t]
        with inter_path.open(newline="") as fh:
            for row in csv.DictReader(fh):
                inter.add((row["user_id"], row["item_id"], float(row["timestamp"])))
                users.add(row["user_id"])
    return {"items": len(items), "users": len(users), "interactions": len(inter),
            "native_tags": sum(len(dict.fromkeys(t)) for t in items.values())}


def _stored(url: str) -> dict[str, int]:
    from db.models import Interaction, Item, ItemTag, TaggingSystem, User
    from db.session import session_scope

    with session_scope(url) as s:
        native = s.scalar(select(TaggingSystem.id).where(TaggingSystem.name == "native"))
        return {"items": s.scalar(select(func.count()).select_from(Item)),
                "users": s.scalar(select(func.count()).select_from(User)),
                "interactions": s.scalar(select(func.count()).select_from(Interaction)),
                "native_tags": s.scalar(select(func.count()).select_from(ItemTag).where(ItemTag.system_id == native))}


def _compare(expected: dict[str, int], stored: dict[str, int], out: dict) -> None:
    for key, want in expected.items():
        have = stored.get(key, 0)
        out["lost_rows"] += max(0, want - have)
        out["duplicated_rows"] += max(0, have - want)
    out["exact_totals"] = out.get("exact_totals", True) and expected == stored
    out["totals"] = stored


def _split(folder: Path, paths: dict[str, Path]) -> list[tuple[Path, Path]]:
    """Two overlapping halves of a catalog: items and interactions of the first and last two thirds."""
    with paths["items"].open(newline="") as fh:
        items = list(csv.reader(fh))
    with paths["interactions"].open(newline="") as fh:
        inter = list(csv.reader(fh))
    n, m = len(items) - 1, len(inter) - 1
    halves = []
    for name, (lo, hi) in (("a", (0, 2 * n // 3)), ("b", (n // 3, n))):
        keep = {r[0] for r in items[1 + lo:1 + hi]}
        rows = inter[1:][(0 if name == "a" else m // 3):(2 * m // 3 if name == "a" else m)]
        ip, ep = folder / f"items-{name}.csv", folder / f"interactions-{name}.csv"
        with ip.open("w", newline="") as fh:
            csv.writer(fh).writerows([items[0], *items[1 + lo:1 + hi]])
        with ep.open("w", newline="") as fh:
            csv.writer(fh).writerows([inter[0], *[r for r in rows if r[1] in keep]])
        halves.append((ip, ep))
    return halves


def import_x_import(make_url, folder: Path, interactions: int = 30_000) -> dict:
    """The same files twice at once, then two overlapping halves at once."""
    from synthetic import write_catalog

    paths = write_catalog(folder / "catalog", interactions // 10, interactions // 30, interactions, seed=7)
    out = {"runs": 0, "crashes": 0, "lost_rows": 0, "duplicated_rows": 0, "failures": []}
    for label, files in (("same files", [(paths["items"], paths["interactions"])] * 2),
                         ("overlapping halves", _split(folder, paths))):
        url = make_url()
        procs = [subprocess.Popen(_import_cmd(i, e), env=_env(url, folder), cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for i, e in files]
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=900)
            out["runs"] += 1
            if proc.returncode != 0:
                out["crashes"] += 1
                out["failures"].append(f"{label}: exit {proc.returncode}: {stderr.strip()[-300:]}")
        _compare(_expected(files), _stored(url), out)
    return out


def import_x_job(make_url, folder: Path, interactions: int = 200_000, items: int = 40) -> dict:
    """A base-tags job (tiny model) runs while a large import stages and publishes; both must finish."""
    from synthetic import write_catalog
    from tiny_model import build_tiny_model

    from betag_engine.catalog.movielens import import_builtin
    from db.models import Job

    url = make_url()
    import_builtin(url, "ml-100k")
    paths = write_catalog(folder / "big", interactions // 10, interactions // 20, interactions, seed=11)
    model = build_tiny_model(folder / "tiny-llama")
    env = _env(url, folder, BETAG_LLM_MODEL=str(model), BETAG_LLM_DEVICE="cpu", BETAG_TORCH_THREADS="1",
               BETAG_MODEL_CACHE=str(folder / "models"))
    job = subprocess.Popen([sys.executable, "-m", "betag_engine", "generate", "base", "--limit", str(items),
                            "--batch-size", "1", "--param", "max_new_tokens=10"], env=env, cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_running(url, job)
    before = _stored(url)
    start = time.monotonic()
    imp = subprocess.Popen(_import_cmd(paths["items"], paths["interactions"]), env=env, cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = {"runs": 2, "crashes": 0, "lost_rows": 0, "duplicated_rows": 0, "failures": []}
    for name, proc in (("import", imp), ("job", job)):
        stdout, stderr = proc.communicate(timeout=1200)
        if proc.returncode != 0:
            out["crashes"] += 1
            out["failures"].append(f"{name}: exit {proc.returncode}: {stderr.strip()[-300:]}")
        if name == "import":
            out["import_seconds"] = round(time.monotonic() - start, 1)
            out["publish_seconds"] = _field(stdout, "publish_seconds")
    expected = _expected([(paths["items"], paths["interactions"])])
    expected = {k: v + before[k] for k, v in expected.items()}
    stored = _stored(url)
    _compare(expected, stored, out)
    from db.session import session_scope

    with session_scope(url) as s:
        statuses = [j.status for j in s.scalars(select(Job).where(Job.kind == "base-tags"))]
    out["job_status"] = ",".join(statuses)
    if statuses != ["done"]:
        out["crashes"] += 1
        out["failures"].append(f"job status {statuses}")
    return out


def _field(stdout: str, name: str):
    for line in stdout.splitlines():
        if line.startswith("{") and name in line:
            try:
                return eval(line, {"__builtins__": {}}).get(name)  # noqa: S307 - our own repr of a dict
            except Exception:  # noqa: BLE001
                return None
    return None


def _wait_running(url: str, proc: subprocess.Popen, timeout_s: float = 300) -> None:
    from db.models import Job
    from db.session import session_scope

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        with session_scope(url) as s:
            if s.scalar(select(Job.progress_done).where(Job.kind == "base-tags", Job.status == "running")):
                return
        time.sleep(0.1)


def reviewer_x_reviewer(make_url, folder: Path, decisions: int = 1000, pool: int = 20) -> dict:
    """Two reviewers make ``decisions`` decisions each on the same ``pool`` items at once."""
    from betag_engine.catalog.movielens import import_builtin

    folder.mkdir(parents=True, exist_ok=True)
    url = make_url()
    import_builtin(url, "ml-100k")
    logs = [folder / f"reviewer-{r}.json" for r in ("alice", "bob")]
    procs = [subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "review", url, name, str(decisions),
                               str(pool), str(log)], env=_env(url, folder), cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for name, log in zip(("alice", "bob"), logs)]
    out = {"reviewers": 2, "decisions_each": decisions, "crashes": 0, "conflicts_refused": 0, "lost_updates": 0,
           "failures": []}
    for proc in procs:
        _stdout, stderr = proc.communicate(timeout=1800)
        if proc.returncode != 0:
            out["crashes"] += 1
            out["failures"].append(f"reviewer exit {proc.returncode}: {stderr.strip()[-300:]}")
    records = [json.loads(log.read_text()) for log in logs if log.exists()]
    _check_reviews(url, records, out)
    return out


def _check_reviews(url: str, records: list[dict], out: dict) -> None:
    """Every successful decision is stored and has its effect; versions count the claims exactly."""
    from db.models import Item, ItemTag, ReviewDecision, TaggingSystem
    from db.session import session_scope

    claims: dict[int, int] = {}
    decision_ids: set[int] = set()
    added: dict[tuple[int, str], bool] = {}
    for rec in records:
        out["crashes"] += rec["errors"]
        out["conflicts_refused"] += rec["conflicts"]
        out["failures"] += rec["failures"][:5]
        for item_id, n in rec["claims"].items():
            claims[int(item_id)] = claims.get(int(item_id), 0) + n
        decision_ids |= set(rec["decision_ids"])
        for item_id, tag, present in rec["own_tags"]:
            added[(item_id, tag)] = present
    with session_scope(url) as s:
        stored_ids = set(s.scalars(select(ReviewDecision.id)))
        versions = dict(s.execute(select(Item.id, Item.review_version).where(Item.id.in_(list(claims)))).all())
        curated = s.scalar(select(TaggingSystem.id).where(TaggingSystem.name == "curated"))
        tags = set(s.execute(select(ItemTag.item_id, ItemTag.tag).where(ItemTag.system_id == curated)).all())
    missing = decision_ids - stored_ids
    extra = stored_ids - decision_ids
    wrong_versions = {i: (versions.get(i), n) for i, n in claims.items() if versions.get(i) != n}
    wrong_tags = [k for k, present in added.items() if (k in tags) != present]
    out["lost_updates"] += len(missing) + len(wrong_versions) + len(wrong_tags)
    out["decisions_stored"] = len(stored_ids)
    out["decisions_made"] = len(decision_ids)
    out["exact_totals"] = not (missing or extra or wrong_versions or wrong_tags)
    if missing or extra or wrong_versions or wrong_tags:
        out["failures"].append(f"missing {sorted(missing)[:5]}, extra {sorted(extra)[:5]}, versions "
                               f"{list(wrong_versions.items())[:5]}, tags {wrong_tags[:5]}")


def _version(s, item_id: int) -> int:
    from db.models import Item

    return s.scalar(select(Item.review_version).where(Item.id == item_id))


def _review_worker(url: str, reviewer: str, decisions: int, pool: int, log: Path) -> None:
    """One reviewer: ``decisions`` successful decisions on the ``pool`` most popular items, reloading on conflict.

    Decisions add a tag of this reviewer's own, remove one it added, or approve / reject one of the item's native
    tags; what each did is logged for the checker."""
    from betag_engine.curation import add_tag, approve_tags, reject_tags, remove_tag
    from betag_engine.errors import ConflictError
    from db.models import Item, ItemTag, TaggingSystem
    from db.session import retry_transaction

    rng = random.Random(reviewer)
    rec = {"claims": {}, "decision_ids": [], "own_tags": [], "conflicts": 0, "errors": 0, "failures": []}
    own: dict[int, list[str]] = {}  # tags this reviewer added that are still there
    removed: dict[int, list[str]] = {}  # and those it removed again

    def load(s):
        ids = list(s.scalars(select(Item.id).order_by(Item.id).limit(pool)))
        native = s.scalar(select(TaggingSystem.id).where(TaggingSystem.name == "native"))
        tags = {}
        for item_id, tag in s.execute(select(ItemTag.item_id, ItemTag.tag).where(ItemTag.system_id == native,
                                                                                 ItemTag.item_id.in_(ids))):
            tags.setdefault(item_id, []).append(tag)
        return ids, tags

    ids, native = retry_transaction(url, load)
    made = attempts = 0
    while made < decisions and attempts < decisions * 20:
        attempts += 1
        item_id = rng.choice(ids)
        version = retry_transaction(url, partial(_version, item_id=item_id))
        roll = rng.random()
        mine = own.get(item_id, [])
        who = {"item_id": item_id, "reviewer": reviewer, "expected_version": version}
        if roll < 0.4 or not native.get(item_id):
            kind, tag = "add", f"{reviewer}-{made}"
            action = partial(add_tag, tag=tag, **who)
        elif roll < 0.6 and mine:
            kind, tag = "remove", rng.choice(mine)
            action = partial(remove_tag, tag=tag, **who)
        else:
            kind, tag = "native", rng.choice(native[item_id])
            action = partial(approve_tags if roll < 0.8 else reject_tags, tags=[tag], source="native", **who)
        try:
            result = retry_transaction(url, action)
        except ConflictError:
            rec["conflicts"] += 1
            continue
        except Exception as exc:  # noqa: BLE001 - a crash is what this counts
            rec["errors"] += 1
            rec["failures"].append(f"{type(exc).__name__}: {exc}"[:300])
            continue
        made += 1
        rec["claims"][item_id] = rec["claims"].get(item_id, 0) + 1
        rec["decision_ids"] += result.decision_ids
        if kind == "add":
            own.setdefault(item_id, []).append(tag)
        elif kind == "remove":
            own[item_id].remove(tag)
            removed.setdefault(item_id, []).append(tag)
    rec["own_tags"] = [(i, t, True) for i, tags in own.items() for t in tags] + [
        (i, t, False) for i, tags in removed.items() for t in tags]
    log.write_text(json.dumps(rec))


def run_all(make_url, folder: Path, decisions: int = 1000, import_rows: int = 30_000,
            job_import_rows: int = 200_000) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    return {"import_x_import": import_x_import(make_url, folder / "ii", import_rows),
            "import_x_job": import_x_job(make_url, folder / "ij", job_import_rows),
            "reviewer_x_reviewer": reviewer_x_reviewer(make_url, folder / "rr", decisions)}


if __name__ == "__main__":
    if sys.argv[1] == "review":
        _review_worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), Path(sys.argv[6]))

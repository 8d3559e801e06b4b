"""``bench scale``: a merchandiser's catalog at a chosen size, end to end, each step with its time and peak memory.

Steps, each in a process of its own so that its peak resident memory is its own (``os.wait4``'s rusage):
1. catalog -- draw the seeded synthetic catalog (``bench.synthetic``) and write its files (CSV or Parquet);
2. import -- ``python -m betag_engine import --items ... --interactions ...`` into a fresh SQLite file;
3. evaluate -- ``python -m betag_engine evaluate --all --system native`` (the whole command: loading, split,
   negatives, every grid cell, test, report), with the seconds to its first progress line;
4. retrieval -- the retrieval functions the app calls (``retrieval.rank`` for an item, a user's history and
   typed tags with BM25, BiRank and Popular; ``curation.preview`` of a draft): cold (loading the tag matrix and
   the first call) and warm (the same call again, mean of a few);
5. pages -- ``python -m app_data.timing``: each page's data functions, cold (caches empty) and warm. It runs as a
   separate program because the engine never imports the app (docs/ARCHITECTURE.md).

Results print as a table and go to ``--json`` (default ``<workdir>/bench-scale.json``), like the other benches.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from betag_engine.bench.synthetic import CatalogSpec, build_catalog, write_catalog

STEPS = ("catalog", "import", "evaluate", "retrieval", "pages")


@dataclass
class StepResult:
    step: str
    seconds: float
    peak_mb: float
    ok: bool = True
    detail: dict = field(default_factory=dict)


def _peak_mb_self() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _memory_mb(pid: int) -> tuple[float, float]:
    """(peak, current) resident memory of a process: VmHWM (reset by exec, unlike getrusage's ru_maxrss, which a
    child inherits from the parent it was forked from) and VmRSS."""
    values = {"VmHWM:": 0.0, "VmRSS:": 0.0}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key = line.split(":", 1)[0] + ":"
                if key in values:
                    values[key] = int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return values["VmHWM:"], values["VmRSS:"]


def memory_profile(samples: list[tuple[float, float]], parts: int = 5) -> list[float]:
    """The highest resident memory (MB) in each fifth of a run: flat when the work's memory does not grow."""
    if not samples:
        return []
    end = samples[-1][0] or 1.0
    out = [0.0] * parts
    for t, rss in samples:
        i = min(int(parts * t / end), parts - 1)
        out[i] = max(out[i], rss)
    return [round(v) for v in out]


def run_measured(cmd: list[str], log: Path, timeout_s: float | None = None,
                 env: dict | None = None) -> tuple[float, float, int, float | None, list]:
    """Run ``cmd`` with its output in ``log``; returns (seconds, peak MB of that process, exit code, seconds to its
    first output or None, [(seconds, resident MB)] samples). Memory is read from /proc every 50 ms (the peak is a
    high-water mark, so only a rise in the last 50 ms could be missed)."""
    start = time.perf_counter()
    first, peak, samples = None, 0.0, []
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env or dict(os.environ))
        os.set_blocking(proc.stdout.fileno(), False)
        while True:
            hwm, rss = _memory_mb(proc.pid)
            peak = max(peak, hwm)
            if rss:
                samples.append((time.perf_counter() - start, rss))
            chunk = proc.stdout.read()
            if chunk:
                first = first if first is not None else time.perf_counter() - start
                out.write(chunk)
            if proc.poll() is not None:
                break
            if timeout_s and time.perf_counter() - start > timeout_s:
                proc.kill()
            time.sleep(0.05)
        os.set_blocking(proc.stdout.fileno(), True)
        out.write(proc.stdout.read())
    return time.perf_counter() - start, peak, proc.returncode, first, samples


def _cli(url: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "betag_engine", "--database-url", url, *args]


def _tail(path: Path, n: int = 6) -> list[str]:
    lines = path.read_text(errors="replace").replace("\r", "\n").splitlines()
    return [ln for ln in lines if ln.strip()][-n:]


def _step_catalog(spec: CatalogSpec, folder: Path, fmt: str) -> StepResult:
    start = time.perf_counter()
    catalog = build_catalog(spec)
    items, interactions = write_catalog(catalog, folder, fmt)
    detail = {"items_file": str(items), "interactions_file": str(interactions), "items": len(catalog.items),
              "interactions": len(catalog.interactions), "users": int(catalog.interactions["user_id"].nunique()),
              "files_mb": round((items.stat().st_size + interactions.stat().st_size) / 2**20, 1)}
    del catalog  # the next steps run in processes of their own; this one need not hold the frames
    return StepResult("catalog", time.perf_counter() - start, _peak_mb_self(), True, detail)


def _step_command(name: str, cmd: list[str], work: Path, timeout_s: float | None,
                  env: dict | None = None) -> StepResult:
    log = work / f"{name}.log"
    seconds, peak, code, first, samples = run_measured(cmd, log, timeout_s, env)
    detail = {"command": " ".join(cmd[1:]), "log": str(log), "tail": _tail(log),
              "first_output_s": None if first is None else round(first, 2),
              "rss_by_fifth_mb": memory_profile(samples)}
    return StepResult(name, seconds, peak, code == 0, detail)


def _step_json(name: str, cmd: list[str], work: Path, timeout_s: float | None,
               env: dict | None = None) -> StepResult:
    out = work / f"{name}.json"
    out.unlink(missing_ok=True)
    result = _step_command(name, cmd + ["--json-out", str(out)], work, timeout_s, env)
    if result.ok and out.exists():
        result.detail["timings"] = json.loads(out.read_text())
    return result


def run(args, settings) -> list[StepResult]:
    """Run the steps ``args`` asks for; returns their results (each step also prints as it ends)."""
    spec = CatalogSpec(args.items, args.users, args.interactions, args.tags, args.tags_min, args.tags_max,
                       args.tag_zipf, args.item_zipf, settings.seed if args.seed is None else args.seed)
    work = Path(args.workdir or settings.data_dir / "bench-scale").expanduser()
    work.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{work / 'scale.sqlite'}"
    steps = [s for s in STEPS if s not in (args.skip or [])]
    results = []
    files = (work / f"items.{args.format}", work / f"interactions.{args.format}")
    for step in steps:
        print(f"[bench scale] {step} ...", flush=True)
        if step == "catalog":
            res = _step_catalog(spec, work, args.format)
        elif step == "import":
            (work / "scale.sqlite").unlink(missing_ok=True)
            for extra in ("-wal", "-shm"):
                (work / f"scale.sqlite{extra}").unlink(missing_ok=True)
            res = _step_command("import", _cli(url, "import", "--items", str(files[0]), "--interactions",
                                               str(files[1])), work, args.timeout)
        elif step == "evaluate":
            res = _step_command("evaluate", _cli(url, "evaluate", "--all", "--system", "native", "--json",
                                                 str(work / "evaluate-report.json")), work, args.timeout)
        elif step == "retrieval":
            res = _step_json("retrieval", _cli(url, "bench", "scale-retrieval"), work, args.timeout)
        else:
            # the app reads its settings from the environment: the child gets this database's URL in its own
            res = _step_json("pages", [sys.executable, "-m", "app_data.timing"], work, args.timeout,
                             env={**os.environ, "BETAG_DATABASE_URL": url})
        results.append(res)
        print(f"[bench scale] {step}: {res.seconds:.1f} s, peak {res.peak_mb:.0f} MB"
              + ("" if res.ok else f" FAILED (see {res.detail.get('log')})"), flush=True)
    return results


def _timing_lines(results: list[StepResult]) -> list[str]:
    lines = []
    for res in results:
        for row in (res.detail.get("timings") or {}).get("rows", []):
            lines.append(f"  {res.step:<9} {row['name']:<44} cold {row['cold_s']:>6.3f} s  "
                         f" warm {row['warm_s']:>6.3f} s"
                         + (f"   {row['note']}" if row.get("note") else ""))
    return lines


def report(results: list[StepResult], args) -> dict:
    """Print the table and return the JSON-able record."""
    print(f"\nbench scale: {args.items:,} items, {args.users:,} users, {args.interactions:,} interactions, "
          f"{args.tags:,} tags ({args.tags_min}-{args.tags_max} per item), {args.format}")
    print(f"{'step':<10} {'seconds':>8} {'peak MB':>8}  detail")
    for r in results:
        note = ""
        if r.step in ("import", "evaluate"):
            note = (f"first output after {r.detail.get('first_output_s')} s; resident MB by fifth of the run "
                    f"{r.detail.get('rss_by_fifth_mb')}")
        elif r.step == "catalog":
            note = f"{r.detail['files_mb']} MB of files"
        print(f"{r.step:<10} {r.seconds:>8.1f} {r.peak_mb:>8.0f}  {'ok' if r.ok else 'FAILED'} {note}")
    for line in _timing_lines(results):
        print(line)
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end")
    return {"args": {k: v for k, v in vars(args).items() if k != "func"}, "machine": {
        "cores": os.cpu_count(), "loadavg_end": load, "python": platform.python_version()},
        "steps": [asdict(r) for r in results]}


def main(args, settings) -> int:
    results = run(args, settings)
    record = report(results, args)
    out = Path(args.json or Path(args.workdir or settings.data_dir / "bench-scale") / "bench-scale.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2, default=str))
    print(f"wrote {out}")
    return 0 if all(r.ok for r in results) else 1

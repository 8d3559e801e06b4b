"""Documentation that is generated or must stay inside the repository."""

import re
import subprocess
from pathlib import Path

from betag_engine.jobs.params_doc import params_markdown
from betag_engine.vocabulary import JOB_KINDS

ROOT = Path(__file__).resolve().parents[1]


def test_jobs_md_is_the_output_of_the_params_command():
    """docs/JOBS.md is `python -m betag_engine params`: regenerate it when a job's parameters change."""
    assert (ROOT / "docs" / "JOBS.md").read_text() == params_markdown(), (
        "docs/JOBS.md is out of date: run `.venv/bin/python -m betag_engine params > docs/JOBS.md`")


def test_every_job_parameter_is_documented():
    from dataclasses import fields

    from betag_engine.jobs.registry import params_class

    undocumented = [f"{kind}.{f.name}" for kind in JOB_KINDS for f in fields(params_class(kind))
                    if not f.metadata.get("help")]
    assert not undocumented, f"add metadata={{'help': ...}} to {undocumented}"


def test_nothing_in_the_repository_points_outside_it():
    """Links and paths in tracked text files stay inside the repository (no ../ out of it, no absolute paths)."""
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    outside = []
    for name in files:
        path = ROOT / name
        if path.suffix not in {".py", ".md", ".toml", ".ini", ".txt", ".sh", ".mako", ""} or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        for match in re.finditer(r"(?<![\w.])(\.\./[\w./-]+|/work/[\w./-]+|/home/[\w./-]+)", text):
            target = (path.parent / match.group(0)).resolve() if match.group(0).startswith("..") else None
            if target is None or ROOT not in target.parents:
                outside.append(f"{name}: {match.group(0)}")
    assert not outside, outside

"""The commit of the running code, so that a report says which code made it."""

from __future__ import annotations

import functools
import subprocess

from betag_engine.settings import PROJECT_ROOT


@functools.cache
def code_version() -> str | None:
    """This checkout's short commit, with "+changes" when tracked files differ from it (taken once per process, at
    the first call); None outside a git checkout or where git is missing."""

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-C", str(PROJECT_ROOT), *args], capture_output=True, text=True, timeout=30)

    try:
        head = git("rev-parse", "--short=7", "HEAD")
        if head.returncode != 0:
            return None
        changed = git("diff", "--quiet", "HEAD", "--").returncode == 1
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+changes" if changed else "")

"""How much of the reliability suite the tests run: a sample in CI, all of it with tests/reliability/run.py (or
these variables set to the full sizes: 1000 files, 10 kills, 1000 decisions)."""

import os

FILES = int(os.environ.get("BETAG_RELIABILITY_FILES", "200"))
KILLS = int(os.environ.get("BETAG_RELIABILITY_KILLS", "3"))
DECISIONS = int(os.environ.get("BETAG_RELIABILITY_DECISIONS", "200"))

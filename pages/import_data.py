"""Import: load your own items / interactions / tags files; every bad row is listed and nothing is changed."""

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from betag_engine.catalog.importer import ColumnMapping, import_files
from betag_engine.errors import ImportValidationError
from pages import services


def main() -> None:
    services.shell()
    st.title("Import a catalog")
    st.caption("CSV, TSV, Parquet or JSONL. Items: item_id, title, description, tags ('|'-separated), extra "
               "columns kept as metadata. Interactions: user_id, item_id, timestamp (epoch or ISO 8601), rating "
               "(optional). Tags: item_id, tag. See docs/APP.md.")
    items = st.file_uploader("Items file", key="import_items")
    events = st.file_uploader("Interactions file", key="import_interactions")
    tags = st.file_uploader("Tags file (long form)", key="import_tags")
    with st.expander("Column mapping (when your columns have other names)"):
        fields = ColumnMapping.__dataclass_fields__
        mapping = {name: st.text_input(name, value=f.default, help=f.metadata.get("help"), key=f"import_map_{name}")
                   for name, f in fields.items()}
    if not st.button("Import", key="import_run", type="primary", disabled=not (items or events or tags)):
        st.stop()
    with tempfile.TemporaryDirectory() as tmp:
        paths = [_save(tmp, f) for f in (items, events, tags)]
        try:
            with services.db() as s:
                summary = import_files(s, *paths, mapping=ColumnMapping(**mapping), progress=st.text)
        except ImportValidationError as exc:
            st.error(f"Import refused: {len(exc.problems)} problem(s). Nothing was changed.")
            st.dataframe(pd.DataFrame([{"file": p.file, "row": p.row, "field": p.field, "reason": p.reason}
                                       for p in exc.problems]), hide_index=True, key="import_problems")
            st.stop()
        except ValueError as exc:
            st.error(str(exc))
            st.stop()
    services.changed()
    st.success(f"Imported: {summary}")


def _save(folder: str, upload) -> str | None:
    if upload is None:
        return None
    path = Path(folder) / Path(upload.name).name
    path.write_bytes(upload.getvalue())
    return str(path)


main()

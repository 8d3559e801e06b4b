"""Import: load your own items / interactions / tags files; every bad row is listed and nothing is changed."""

import pandas as pd
import streamlit as st

from app_data import services
from betag_engine.catalog.importer import ColumnMapping
from betag_engine.errors import ImportValidationError


def main() -> None:
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
    try:
        summary = services.import_uploads((items, events, tags), ColumnMapping(**mapping), progress=st.text)
    except ImportValidationError as exc:
        st.error(f"Import refused: {len(exc.problems)} problem(s). Nothing was changed.")
        st.dataframe(pd.DataFrame([{"file": p.file, "row": p.row, "field": p.field, "reason": p.reason}
                                   for p in exc.problems]), hide_index=True, key="import_problems")
        st.stop()
    except ValueError as exc:
        st.error(str(exc))
        st.stop()
    st.success(f"Imported: {summary}")


main()

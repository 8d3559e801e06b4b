"""Import: load your own items / interactions / tags files. Every value is checked; by default one bad row refuses
the import and every problem is listed (file, row, field, reason); with "skip invalid rows" the valid rows are
imported and the refused ones offered as a report."""

import pandas as pd
import streamlit as st

from app_data import services
from app_data.navigation import GENERATE_PAGE
from app_data.state import PIPELINE_PRESET
from betag_engine.catalog.importer import ColumnMapping
from betag_engine.errors import ImportValidationError
from betag_engine.tagging.config import DOMAIN_PRESETS
from betag_engine.vocabulary import CURRENT_CATALOG


def main() -> None:
    st.title("Import a catalog")
    st.caption("CSV, TSV, Parquet, JSON Lines or a JSON array, UTF-8. Items: item_id, title, description, tags "
               "('|'-separated), extra columns kept as metadata. Interactions: user_id, item_id, timestamp (epoch "
               "seconds or ISO 8601), rating (optional). Tags: item_id, tag. The rules: docs/APP.md.")
    items = st.file_uploader("Items file", key="import_items")
    events = st.file_uploader("Interactions file", key="import_interactions")
    tags = st.file_uploader("Tags file (long form)", key="import_tags")
    with st.expander("Column mapping (when your columns have other names)"):
        fields = ColumnMapping.__dataclass_fields__
        mapping = {name: st.text_input(name, value=f.default, help=f.metadata.get("help"), key=f"import_map_{name}")
                   for name, f in fields.items()}
    options = _options()
    domain = st.selectbox("What the items are (the prompt preset every tagging run on this catalog uses)",
                          [None, *DOMAIN_PRESETS], key="import_domain",
                          format_func=lambda d: "keep what the catalog recorded" if d is None else d,
                          help="Recorded with the catalog; the pipeline reads it (or asks for one): products for "
                               "merchandise with descriptions, movies for films.")
    if not st.button("Import", key="import_run", type="primary", disabled=not (items or events or tags)):
        st.stop()
    bar = st.progress(0.0, text="starting")
    try:
        summary = services.import_uploads((items, events, tags), ColumnMapping(**mapping), options,
                                          progress=lambda note: bar.progress(_share(note), text=str(note)),
                                          domain=domain)
    except ImportValidationError as exc:
        bar.empty()
        _refused(exc)
        st.stop()
    except ValueError as exc:
        bar.empty()
        st.error(str(exc))
        st.stop()
    bar.empty()
    st.success(f"Imported in {summary.seconds:.1f} s: {services.import_outcome(summary)}")
    st.session_state[PIPELINE_PRESET] = CURRENT_CATALOG  # the Generate page opens on a pipeline over this catalog
    st.page_link(GENERATE_PAGE, label="Run the pipeline on this catalog (Generate)", icon=":material/play_arrow:")
    if summary.rows_refused:
        st.warning(f"{summary.rows_refused} row(s) were refused and left out; the report lists each with its reason.")
        st.download_button("Refused rows (CSV)", services.read_bytes(summary.report_path), file_name="refused.csv",
                           key="import_refused_report")


def _options() -> dict:
    with st.expander("Checks and options"):
        fmt = st.text_input("Timestamp format", value="auto", key="import_ts_format",
                            help="auto: epoch seconds or ISO 8601. For day/month dates such as 01/02/2020 give a "
                                 "strptime pattern, e.g. %d/%m/%Y (they are refused otherwise: ambiguous).")
        c1, c2, c3, c4 = st.columns(4)
        min_year = c1.number_input("Earliest year", value=1900, step=1, key="import_min_year")
        max_year = c2.number_input("Latest year", value=2100, step=1, key="import_max_year")
        rating_min = c3.number_input("Lowest rating", value=0.0, key="import_rating_min")
        rating_max = c4.number_input("Highest rating", value=10.0, key="import_rating_max")
        skip = st.checkbox("Skip invalid rows", value=False, key="import_skip_invalid",
                           help="Import the valid rows and list every refused row with its reason in a report. "
                                "Off: one bad row refuses the whole import and nothing changes.")
    return {"timestamp_format": fmt, "min_year": int(min_year), "max_year": int(max_year),
            "rating_min": float(rating_min), "rating_max": float(rating_max), "skip_invalid": skip}


def _share(note) -> float:
    return min(1.0, note.done / note.total) if getattr(note, "total", 0) else 0.0


def _refused(exc: ImportValidationError) -> None:
    st.error(f"Import refused: {exc.total} problem(s). Nothing was changed.")
    problems = pd.DataFrame([{"file": p.file, "row": p.row, "unit": p.unit, "field": p.field or "",
                              "reason": p.reason} for p in exc.problems])
    st.dataframe(problems, hide_index=True, key="import_problems",
                 column_config={"row": st.column_config.NumberColumn(help="As a spreadsheet shows it: the header "
                                                                          "is row 1 (JSON Lines: the line).")})
    if exc.total > len(exc.problems):
        st.caption(f"The first {len(exc.problems):,} of {exc.total:,} problems are listed.")
    st.download_button("Problems (CSV)", problems.to_csv(index=False).encode(), file_name="import-problems.csv",
                       key="import_problems_csv")


main()

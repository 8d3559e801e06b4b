"""BETag Studio: the router. Page config, first start, the shared sidebar, ``st.navigation`` and the page.

Pages (``pages/*.py``) only lay out widgets: everything around them (first start, sidebar, the last action's
message) is rendered here, once per run.

Each page's ``url_path`` differs from its file name on purpose. A ``pages/`` folder next to the main script makes
Streamlit start every fresh process (and every ``AppTest`` run) in its legacy multipage mode, which runs a page
file on its own, without this router, when the requested page matches a file name. With other names it falls
back to this script, and ``st.navigation`` below picks the page.
"""

import streamlit as st

from app_data import services, state
from betag_engine.errors import BetagError
from betag_engine.vocabulary import REVIEW_STATUSES

PAGES = {
    "Overview": [
        st.Page("pages/home.py", title="Home", url_path="overview", default=True),
        st.Page("pages/catalog.py", title="Catalog", url_path="items"),
        st.Page("pages/import_data.py", title="Import", url_path="import"),
    ],
    "Tags": [
        st.Page("pages/compare.py", title="Compare", url_path="compare-systems"),
        st.Page("pages/review.py", title="Review", url_path="review-tags"),
        st.Page("pages/bulk.py", title="Bulk review & export", url_path="bulk-review"),
        st.Page("pages/audit.py", title="Audit", url_path="audit-log"),
    ],
    "Models": [
        st.Page("pages/generate.py", title="Generate", url_path="jobs"),
        st.Page("pages/retrieval.py", title="Retrieval preview", url_path="retrieval-preview"),
        st.Page("pages/evaluation.py", title="Evaluation", url_path="evaluation-reports"),
    ],
}
FIRST_START_STEPS = 6  # import_builtin reports reading each file, checking, publishing, done


def first_start() -> None:
    """Import the built-in MovieLens-100k catalog into an empty database, with progress."""
    with st.status("First start: importing the built-in MovieLens-100k catalog", expanded=True) as status:
        bar = st.progress(0.0, text="reading the data files")
        done: list[str] = []

        def note(message) -> None:
            done.append(str(message))
            st.text(str(message))
            bar.progress(min(1.0, len(done) / FIRST_START_STEPS), text=str(message))

        try:
            summary = services.import_builtin_catalog(progress=note)
        except BetagError as exc:
            status.update(label="Import failed", state="error")
            st.error(str(exc))
            st.stop()
        bar.progress(1.0, text="done")
        status.update(label=f"Imported {summary.items_added} items and {summary.interactions_added} interactions",
                      state="complete", expanded=False)


def sidebar() -> None:
    """Reviewer name and the catalog filter (shared by Catalog, Compare, Review, Bulk and Export)."""
    st.sidebar.text_input("Reviewer", value=services.settings().reviewer, key=state.REVIEWER_KEY)
    with st.sidebar.expander("Catalog filter", expanded=False):
        st.text_input("Search title or id", key="f_text")
        st.selectbox("Native tag", [""] + services.native_tags(), key="f_native", format_func=lambda t: t or "any")
        st.selectbox("Review status", ("",) + REVIEW_STATUSES, key="f_status", format_func=lambda t: t or "any")
        st.multiselect("Tagged by every one of", services.systems(), key="f_systems")


def show_flash() -> None:
    kind, message = state.pop_flash()
    if kind == "error":
        st.error(message, icon=":material/error:")
    elif kind == "success":
        st.success(message, icon=":material/check:")
    elif kind == "warning":
        st.warning(message, icon=":material/info:")


# No page icons: a material-icon favicon is fetched from a CDN (a console error offline).
st.set_page_config(page_title="BETag Studio", layout="wide")
if services.catalog_is_empty():
    first_start()
sidebar()
page = st.navigation(PAGES)
show_flash()
page.run()

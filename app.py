"""BETag Studio: the router. Page config, first start, the shared sidebar, ``st.navigation`` and the page.

Pages (``pages/*.py``) only lay out widgets: everything around them (first start, sidebar, the last action's
message) is rendered here, once per run. The pages, their titles and URL paths are listed in
``app_data/navigation.py`` (why the URL paths differ from the file names, and how ``serve.py`` opens a page's URL
without the browser's 404s, is written there).
"""

import streamlit as st

from app_data import services, state
from app_data.navigation import PAGE_PARAM, SECTIONS
from betag_engine.errors import BetagError
from betag_engine.vocabulary import REVIEW_STATUSES

PAGES = {section: [st.Page(p.file, title=p.title, url_path=p.url_path, default=p.default) for p in pages]
         for section, pages in SECTIONS.items()}
BY_URL_PATH = {page.url_path: page for pages in PAGES.values() for page in pages}
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
wanted = st.query_params.get(PAGE_PARAM)
if wanted is not None:  # a page URL opened directly, redirected by serve.py
    del st.query_params[PAGE_PARAM]
    if BY_URL_PATH.get(wanted) not in (None, page):
        st.switch_page(BY_URL_PATH[wanted])
show_flash()
page.run()

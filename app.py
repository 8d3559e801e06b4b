"""BETag Studio: router. Page config, first-start bootstrap, the shared sidebar and st.navigation."""

import streamlit as st

from pages import services

# No page icons: a material-icon favicon is fetched from a CDN (a console error offline).
st.set_page_config(page_title="BETag Studio", layout="wide")

services.bootstrap()
services.sidebar()

pages = {
    "Overview": [
        st.Page("pages/home.py", title="Home", default=True),
        st.Page("pages/catalog.py", title="Catalog"),
        st.Page("pages/import_data.py", title="Import"),
    ],
    "Tags": [
        st.Page("pages/compare.py", title="Compare"),
        st.Page("pages/review.py", title="Review"),
        st.Page("pages/bulk.py", title="Bulk review & export"),
        st.Page("pages/audit.py", title="Audit"),
    ],
    "Models": [
        st.Page("pages/generate.py", title="Generate"),
        st.Page("pages/retrieval.py", title="Retrieval preview"),
        st.Page("pages/evaluation.py", title="Evaluation"),
    ],
}
page = st.navigation(pages)
services.show_flash()
st.session_state["_routed"] = True  # the page skips its own shell (see services.shell)
try:
    page.run()
finally:
    st.session_state["_routed"] = False

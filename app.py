"""BETag Studio: router. Page config, first-start bootstrap, the shared sidebar and st.navigation."""

import streamlit as st

from pages import services

st.set_page_config(page_title="BETag Studio", page_icon=":material/sell:", layout="wide")

services.bootstrap()
services.sidebar()

pages = {
    "Overview": [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/catalog.py", title="Catalog", icon=":material/table:"),
        st.Page("pages/import_data.py", title="Import", icon=":material/upload:"),
    ],
    "Tags": [
        st.Page("pages/compare.py", title="Compare", icon=":material/compare:"),
        st.Page("pages/review.py", title="Review", icon=":material/fact_check:"),
        st.Page("pages/bulk.py", title="Bulk review & export", icon=":material/done_all:"),
        st.Page("pages/audit.py", title="Audit", icon=":material/history:"),
    ],
    "Models": [
        st.Page("pages/generate.py", title="Generate", icon=":material/play_circle:"),
        st.Page("pages/retrieval.py", title="Retrieval preview", icon=":material/search:"),
        st.Page("pages/evaluation.py", title="Evaluation", icon=":material/monitoring:"),
    ],
}
page = st.navigation(pages)
services.show_flash()
st.session_state["_routed"] = True  # the page skips its own shell (see services.shell)
try:
    page.run()
finally:
    st.session_state["_routed"] = False

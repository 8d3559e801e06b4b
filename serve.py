"""BETag Studio's server: ``streamlit run serve.py``. The app itself is ``app.py`` (the router); this wraps it in
Streamlit's ASGI app only to answer a page's URL opened directly (``/review-tags``) with a redirect to
``/?page=review-tags``, which the router opens: without it the browser's first requests for such a URL go to
``/review-tags/_stcore/...`` and fail with 404 before Streamlit finds its server (app_data/navigation.py).
``streamlit run app.py`` still works; only direct page URLs then log those two 404s.
"""

from urllib.parse import urlencode

import streamlit as st
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from app_data.navigation import PAGE_PARAM, URL_PATHS


async def open_page(request: Request) -> RedirectResponse:
    """``/<page>?a=b`` -> ``/?page=<page>&a=b`` (the page's own query parameters kept)."""
    query = [(PAGE_PARAM, request.url.path.strip("/")), *request.query_params.multi_items()]
    return RedirectResponse("/?" + urlencode(query), status_code=307)


app = st.App("app.py", routes=[Route(f"/{path}", open_page, methods=["GET", "HEAD"]) for path in URL_PATHS]
             + [Route(f"/{path}/", open_page, methods=["GET", "HEAD"]) for path in URL_PATHS])

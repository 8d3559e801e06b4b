"""The app's pages: file, title and URL path of each, by section. ``app.py`` builds ``st.navigation`` from it and
``serve.py`` answers a page's URL opened directly (a bookmark, a reload, a shared link).

Each page's ``url_path`` differs from its file name on purpose. A ``pages/`` folder next to the main script makes
Streamlit start every fresh process (and every ``AppTest`` run) in its legacy multipage mode, which runs a page
file on its own, without the router, when the requested page matches a file name. With other names it falls back
to the router, and ``st.navigation`` picks the page.

Opened directly, ``/review-tags`` makes Streamlit's front end look for its server under that path first
(``/review-tags/_stcore/health``, ``/review-tags/_stcore/host-config``: two 404s in the browser console) before
it tries the root. ``serve.py`` redirects such a URL to ``/?page=review-tags`` instead, and the router opens the
page (:data:`PAGE_PARAM`), so the front end starts at the root and the browser shows ``/review-tags`` again.
"""

from __future__ import annotations

from dataclasses import dataclass

PAGE_PARAM = "page"  # the query parameter a redirected page URL carries


@dataclass(frozen=True)
class PageSpec:
    file: str
    title: str
    url_path: str
    default: bool = False


SECTIONS: dict[str, tuple[PageSpec, ...]] = {
    "Overview": (
        PageSpec("pages/home.py", "Home", "overview", default=True),
        PageSpec("pages/catalog.py", "Catalog", "items"),
        PageSpec("pages/import_data.py", "Import", "import"),
    ),
    "Tags": (
        PageSpec("pages/compare.py", "Compare", "compare-systems"),
        PageSpec("pages/review.py", "Review", "review-tags"),
        PageSpec("pages/bulk.py", "Bulk review & export", "bulk-review"),
        PageSpec("pages/audit.py", "Audit", "audit-log"),
    ),
    "Models": (
        PageSpec("pages/generate.py", "Generate", "jobs"),
        PageSpec("pages/retrieval.py", "Retrieval preview", "retrieval-preview"),
        PageSpec("pages/evaluation.py", "Evaluation", "evaluation-reports"),
    ),
}
GENERATE_PAGE = "pages/generate.py"
URL_PATHS = tuple(p.url_path for pages in SECTIONS.values() for p in pages)

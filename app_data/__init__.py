"""The app's data layer, between the pages and the engine (docs/ARCHITECTURE.md).

``queries`` (read queries on a Session, no Streamlit), ``views`` (pure shaping of their results for display),
``services`` (settings, cached reads, the units of work of every write: decisions, imports, jobs) and ``state``
(what the browser session keeps: reviewer, filter, open item, the last action's message). Pages import these and
the engine's plain functions; they hold no SQL and no session handling.
"""

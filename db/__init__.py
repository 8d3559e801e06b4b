"""Database layer: SQLAlchemy 2.0 models, engines and sessions. Connects to nothing on import.

The session rule (``db.session``): ``session_scope(url)`` is the way in; whoever opens it owns the unit of work and
its commit; functions that receive a session never commit or roll back.
"""

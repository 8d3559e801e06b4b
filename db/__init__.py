"""Database layer: SQLAlchemy 2.0 models and session factories. Connects to nothing on import."""

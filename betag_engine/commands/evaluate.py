"""Command group 'evaluate' (being written)."""


def register(sub) -> None:
    return None

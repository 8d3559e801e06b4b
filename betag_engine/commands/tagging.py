"""Command group 'tagging' (being written)."""


def register(sub) -> None:
    return None

"""Command group 'bench' (being written)."""


def register(sub) -> None:
    return None

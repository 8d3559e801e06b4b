"""What a catalog says about itself: its size and content hash (so two reports can be compared), and the settings
recorded with it (the prompt preset its items are tagged with: chosen once, at import or by flag, never guessed).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import CatalogSetting, Interaction, Item, User

PROMPT_SETTING = "prompt"  # the catalog's PromptConfig fields ({"domain": "products", ...})
SOURCE_SETTING = "source"  # where the catalog came from (a built-in dataset's name, or "import")
_HASH_CHUNK = 50_000


@dataclass(frozen=True)
class CatalogSummary:
    """Counts and a content hash of the catalog (items' ids and titles, interactions' user, item and time)."""

    items: int
    users: int
    interactions: int
    content_hash: str
    source: str | None
    prompt: dict | None

    def as_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        return (f"{self.items} items, {self.users} users, {self.interactions} interactions "
                f"(content hash {self.content_hash})")


def get_setting(session: Session, key: str) -> Any:
    row = session.get(CatalogSetting, key)
    return None if row is None else row.value


def set_setting(session: Session, key: str, value: Any) -> None:
    """Record ``value`` under ``key`` (the caller's unit of work commits it)."""
    row = session.get(CatalogSetting, key)
    if row is None:
        session.add(CatalogSetting(key=key, value=value))
    else:
        row.value = value
    session.flush()


def content_hash(session: Session) -> str:
    """A short SHA-256 over every item (external id, title) and interaction (user, item, timestamp), in id order."""
    h = hashlib.sha256()
    for stmt in (select(Item.external_id, Item.title).order_by(Item.id),
                 select(User.external_id, Item.external_id, Interaction.timestamp)
                 .join(User, User.id == Interaction.user_id).join(Item, Item.id == Interaction.item_id)
                 .order_by(Interaction.id)):
        for row in session.execute(stmt.execution_options(yield_per=_HASH_CHUNK)):
            h.update(repr(tuple(row)).encode())
            h.update(b"\n")
    return h.hexdigest()[:16]


def catalog_summary(session: Session) -> CatalogSummary:
    count = lambda col: int(session.scalar(select(func.count(col))) or 0)  # noqa: E731
    return CatalogSummary(count(Item.id), count(User.id), count(Interaction.id), content_hash(session),
                          get_setting(session, SOURCE_SETTING), get_setting(session, PROMPT_SETTING))

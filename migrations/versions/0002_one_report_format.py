"""one report format: pipeline reports keep their evaluation table rows under "rows", as evaluation reports do

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 15:00:00.000000

Pipeline reports stored before this revision kept the evaluation table as ``full_table`` ({meta, rows}); the app
now reads ``rows`` from every report. A data migration only: the schema does not change.
"""
import json

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

_reports = sa.table("reports", sa.column("id", sa.Integer), sa.column("payload", sa.JSON))


def _rewrite(move) -> None:
    conn = op.get_bind()
    for report_id, payload in conn.execute(sa.select(_reports.c.id, _reports.c.payload)).all():
        payload = json.loads(payload) if isinstance(payload, str) else payload
        new = move(dict(payload or {}))
        if new is not None:
            conn.execute(_reports.update().where(_reports.c.id == report_id).values(payload=new))


def upgrade() -> None:
    def move(payload: dict):
        if "full_table" not in payload or "rows" in payload:
            return None
        table = payload.pop("full_table") or {}
        payload["rows"] = table.get("rows", [])
        payload.setdefault("meta", table.get("meta", {}))
        return payload

    _rewrite(move)


def downgrade() -> None:
    def move(payload: dict):
        if "profile" not in payload or "rows" not in payload:
            return None
        payload["full_table"] = {"meta": payload.get("meta", {}), "rows": payload.pop("rows")}
        return payload

    _rewrite(move)

"""job key and worker host: rerunning a command resumes its job row; any reader can tell a dead worker

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 16:00:00.000000

``jobs.key`` (kind + hash of the parameters, unique) lets a rerun of the same command find and resume its job row
instead of adding one; existing rows get the key of their parameters, the newest row of each key keeps it.
``jobs.worker_host`` tells a reader whether it can check the worker's pid itself (same host) or must go by the
heartbeat.
"""
import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_jobs = sa.table("jobs", sa.column("id", sa.Integer), sa.column("kind", sa.String), sa.column("params", sa.JSON),
                 sa.column("key", sa.String))


def _job_key(kind: str, params) -> str:
    """betag_engine.jobs.runner.job_key as of this revision (a migration keeps its own copy)."""
    blob = json.dumps(params, sort_keys=True, default=str)
    return f"{kind}:{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('worker_host', sa.String(length=255), nullable=True))
    conn = op.get_bind()
    seen = set()
    for job_id, kind, params in conn.execute(sa.select(_jobs.c.id, _jobs.c.kind, _jobs.c.params)
                                             .order_by(_jobs.c.id.desc())).all():
        params = json.loads(params) if isinstance(params, str) else params
        key = _job_key(kind, params or {})
        if key not in seen:
            seen.add(key)
            conn.execute(_jobs.update().where(_jobs.c.id == job_id).values(key=key))
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_jobs_key'), ['key'])


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_jobs_key'), type_='unique')
        batch_op.drop_column('worker_host')
        batch_op.drop_column('key')

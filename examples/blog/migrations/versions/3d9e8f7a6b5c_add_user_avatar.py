"""add user avatar (written on a feature branch, in parallel with add_tags)

Revision ID: 3d9e8f7a6b5c
Revises: 2b3c4d5e6f70
Create Date: 2026-03-03 08:45:00
"""
from alembic import op
import sqlalchemy as sa

revision = "3d9e8f7a6b5c"
down_revision = "2b3c4d5e6f70"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("avatar_url", sa.String(length=500), nullable=True))


def downgrade():
    op.drop_column("users", "avatar_url")

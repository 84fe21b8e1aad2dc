"""add tags

Revision ID: 3c4d5e6f7081
Revises: 2b3c4d5e6f70
Create Date: 2026-03-02 14:12:00
"""
from alembic import op
import sqlalchemy as sa

revision = "3c4d5e6f7081"
down_revision = "2b3c4d5e6f70"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("SET lock_timeout = '3s'")
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("color", sa.Enum("red", "green", "blue", name="tag_color"), nullable=True),
    )
    op.add_column("posts", sa.Column("tag_id", sa.Integer(), nullable=True))
    op.create_foreign_key("fk_posts_tag_id", "posts", "tags", ["tag_id"], ["id"])
    with op.get_context().autocommit_block():
        op.create_index("ix_posts_tag_id", "posts", ["tag_id"], postgresql_concurrently=True)


def downgrade():
    with op.get_context().autocommit_block():
        op.drop_index("ix_posts_tag_id", table_name="posts", postgresql_concurrently=True)
    op.drop_constraint("fk_posts_tag_id", "posts", type_="foreignkey")
    op.drop_column("posts", "tag_id")
    op.drop_table("tags")

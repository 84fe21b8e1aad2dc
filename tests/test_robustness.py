"""Odd but valid Python in revision files must never crash the front end or any rule."""

import pytest

from migration_lint.api import lint_sources

ODD_BODIES = [
    "op.add_column()",
    "op.add_column('t')",
    "op.add_column('t', make_column())",
    "op.add_column('t', sa.Column(sa.Integer()))",
    "op.drop_column('t')",
    "op.create_index()",
    "op.create_index(None, None, None)",
    "op.create_index(*args, **kwargs)",
    "op.create_table(name, *columns)",
    "op.create_table('t', sa.Column())",
    "op.alter_column('t', 'c', type_=make_type(), server_default=compute())",
    "op.alter_column(**spec)",
    "op.drop_constraint(None)",
    "op.create_foreign_key(None, 't', 'u', cols, refs)",
    "op.execute()",
    "op.execute(b'DROP TABLE t')",
    "op.execute('')",
    "op.execute(';;;')",
    "op.execute('SELECT 1; garbage here (')",
    "op.execute(sa.text(x).bindparams(y=1))",
    "op.bulk_insert(tables.kind, rows)",
    "op.rename_table('a')",
    "for t in tables:\n    op.drop_table(t)\n    op.add_column(t, sa.Column(t, sa.Integer(), nullable=False))",
    "with op.batch_alter_table(name) as b:\n    b.drop_column('c')\n    b.add_column(sa.Column('d', sa.Integer()))",
    "with op.batch_alter_table('t') as b, other() as c:\n    b.alter_column('c', new_column_name=None)",
    "if op.get_bind().dialect.name in SUPPORTED:\n    op.drop_table('t')",
    "if not context.is_offline_mode():\n    op.drop_table('t')",
    "try:\n    op.drop_table('t')\nexcept Exception:\n    pass\nelse:\n    pass\nfinally:\n    op.drop_table('u')",
    "while True:\n    op.execute('DELETE FROM t')\n    break\nelse:\n    pass",
    "x = [op.drop_table(t) for t in ('a', 'b')]",
    "sa.Enum(name=None).create(op.get_bind())",
    "sa.Enum('a', 'b').drop(op.get_bind())",
    "op.add_column('t', sa.Column('c', sa.Enum(MyEnum, name='my_enum'), nullable=False))",
    "lambda: op.drop_table('t')",
    "async def inner():\n    await op.drop_table('t')",
    "class Local:\n    pass\nop.drop_table(Local.name)",
    "op.create_index('ix', 't', [sa.text('lower(email)')], postgresql_where=sa.text('x'))",
    "conn = op.get_bind()\nconn.execute(f'UPDATE {t} SET a = 1')\nconn.execute('COMMIT')",
    "op.alter_column('t', 'c', new_column_name='d')\nop.alter_column('t', 'd', new_column_name='e')",
    "op.add_column('t', sa.Column('c', sa.Integer()))\nop.drop_column('t', 'x')\nop.add_column('t', sa.Column(None, sa.Integer()))",
    "op.execute('ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES u (id) NOT VALID; ALTER TABLE t VALIDATE CONSTRAINT f')",
    "upgrade()",
    "downgrade()",
]


def migration(body: str, downgrade: str = "pass", header: str = "") -> str:
    indented = "\n".join("    " + line for line in body.splitlines())
    down = "\n".join("    " + line for line in downgrade.splitlines())
    return f"""from alembic import op, context
import sqlalchemy as sa
{header}
revision = "r1"
down_revision = None


def upgrade():
{indented}


def downgrade():
{down}
"""


@pytest.mark.parametrize("dialect", ["postgresql", "mysql", "sqlite"])
@pytest.mark.parametrize("body", ODD_BODIES)
def test_odd_upgrade_bodies_never_crash(body, dialect):
    findings = lint_sources({"a.py": migration(body)}, dialect=dialect)
    assert all(f.line >= 1 and f.message for f in findings)


@pytest.mark.parametrize("body", ODD_BODIES)
def test_odd_bodies_in_downgrade_never_crash(body):
    lint_sources({"a.py": migration("op.create_table('t', sa.Column('id', sa.Integer()))", downgrade=body)})


@pytest.mark.parametrize(
    "source",
    [
        "",
        "# only a comment\n",
        "revision = 'x'\n",
        "revision = 'x'\ndown_revision = 'x'\n",  # its own parent
        "revision = None\n",
        "revision = ''\n",
        "revision: str\n",
        "revision = 'x'\ndown_revision = ['a', 1]\n",
        "revision = 'x'\ndown_revision = 'a'\nbranch_labels = some_call()\n",
        "revision = 'x'\ndepends_on = ('a',)\ndef upgrade(): pass\ndef upgrade(): pass\n",
        "def upgrade(op, *args, **kwargs):\n    op.drop_table('t')\n",
        "def upgrade():\n    def downgrade():\n        pass\n    _helper()\ndef _helper():\n    _helper()\n    op.drop_table('t')\n",
        "\ufeffrevision = 'bom'\n",
        "revision = 'x' # migration-lint: ignore[\n",
        "x = 1 # migration-lint: ignore[] \n",
        "# -*- coding: latin-1 -*-\nrevision = 'x'\n",
        "if True:\n    revision = 'x'\n",
        "@decorator\ndef upgrade():\n    op.drop_table('t')\n",
    ],
)
def test_odd_files_never_crash(source):
    lint_sources({"a.py": source})


def test_deeply_nested_expression_is_a_finding_not_a_crash():
    source = "revision = 'x'\ndef upgrade():\n    x = " + "(" * 120 + "1" + ")" * 120 + "\n    op.drop_table('t')\n"
    findings = lint_sources({"a.py": source})
    # parsed (and the operation after it found), or reported as unparseable: never an exception
    assert {f.rule for f in findings} & {"drop-table", "syntax-error"}

"""The privacy map covers the whole schema: no text, JSON or address column goes unclassified.

The columns come from the database itself (schema reflection), not from the models, so a
table or column added by a migration alone is caught too.
"""

import sqlalchemy as sa

from capture.base.db import db
from capture.base.personal import NotPersonal, Personal
from capture.leads.privacy import privacy_map

# Tables no model maps, with why they hold nothing about a person.
UNMAPPED = {"alembic_version": "the schema's revision"}


def _text_like(column_type: sa.types.TypeEngine) -> bool:
    """Text, JSON and network-address columns: anything that can hold a name, an address
    or an IP. Numbers, booleans and dates cannot."""
    if isinstance(column_type, sa.String | sa.Text | sa.JSON | sa.Enum):
        return True
    name = type(column_type).__name__.upper()
    return any(word in name for word in ("JSON", "INET", "CIDR", "TEXT", "CHAR", "MACADDR"))


def unclassified(inspector: sa.Inspector) -> list[str]:
    declarations = {model.__tablename__: d for model, d in privacy_map()}
    missing = []
    for table in inspector.get_table_names():
        if table in UNMAPPED:
            continue
        declaration = declarations.get(table)
        for column in inspector.get_columns(table):
            if not _text_like(column["type"]):
                continue
            if declaration is None or not declaration.classifies(column["name"]):
                missing.append(f"{table}.{column['name']}")
    return missing


def test_every_text_json_and_address_column_is_classified(app_context, app):
    missing = unclassified(sa.inspect(db.engine))
    assert missing == [], (
        "columns missing from the privacy map (declare them in the model's __privacy__, in "
        f"`erase` with what erasure does, or in `keep` if they hold nothing personal): {missing}"
    )


def test_every_model_declares_and_names_only_real_columns(app):
    for model, declaration in privacy_map():
        assert isinstance(declaration, Personal | NotPersonal), model.__name__
        columns = set(model.__table__.c.keys())
        named = set(declaration.keep)
        if isinstance(declaration, Personal):
            named |= set(declaration.erase)
            assert declaration.find, model.__name__
            assert not (set(declaration.erase) & set(declaration.keep)), model.__name__
        assert named <= columns, (model.__name__, named - columns)


def test_a_new_unclassified_column_fails_the_map(app_context, app):
    """The check itself: a column added behind the map's back is reported."""
    with db.engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE downloads ADD COLUMN referrer VARCHAR(300)"))
    try:
        assert unclassified(sa.inspect(db.engine)) == ["downloads.referrer"]
    finally:
        with db.engine.begin() as connection:
            connection.execute(sa.text("ALTER TABLE downloads DROP COLUMN referrer"))

"""On PostgreSQL the database itself refuses to change or delete an event."""

from django.db import migrations

FORBID = """
CREATE OR REPLACE FUNCTION numbers_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'numbers_event is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER numbers_event_append_only BEFORE UPDATE OR DELETE ON numbers_event
    FOR EACH ROW EXECUTE FUNCTION numbers_event_append_only();
"""
ALLOW = """
DROP TRIGGER IF EXISTS numbers_event_append_only ON numbers_event;
DROP FUNCTION IF EXISTS numbers_event_append_only();
"""

SQLITE_FORBID = """
CREATE TRIGGER numbers_event_no_update BEFORE UPDATE ON numbers_event
BEGIN SELECT RAISE(ABORT, 'numbers_event is append-only: UPDATE refused'); END;
"""
SQLITE_ALLOW = "DROP TRIGGER IF EXISTS numbers_event_no_update;"


def forbid(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORBID, params=None)  # no params: the SQL holds a literal %
    elif schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(SQLITE_FORBID)


def allow(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ALLOW, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(SQLITE_ALLOW)


class Migration(migrations.Migration):
    dependencies = [("numbers", "0002_roles")]

    operations = [migrations.RunPython(forbid, allow)]

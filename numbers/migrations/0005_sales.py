"""Indexes behind the sales staff's number book (docs/sales.md, "Indexes").

PostgreSQL only: a trigram GIN index answers "contains 8888", a btree on the reversed number answers
"ends with 8888" (a prefix search on the reversed string), and a btree on (operator, number) pages
through the available numbers in order. All three are partial (available numbers only): the book
never shows anything else, and the rest of the table does not pay for them on every write.

SQLite answers the same queries with a scan, so nothing is created there. The indexes are built
CONCURRENTLY (hence a non-atomic migration) so that a live million-row table keeps taking writes.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

TABLE = "numbers_phonenumber"
INDEXES = {
    "number_avail_msisdn": f"{TABLE} (range_holder_id, msisdn) WHERE state = 'available'",
    "number_avail_suffix": f"{TABLE} (range_holder_id, reverse(msisdn::text) text_pattern_ops) "
    "WHERE state = 'available'",
    "number_avail_trgm": f"{TABLE} USING gin (msisdn gin_trgm_ops) WHERE state = 'available'",
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, spec in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {spec}")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("numbers", "0004_feed")]

    operations = [
        TrigramExtension(),  # a no-op on databases other than PostgreSQL
        migrations.RunPython(create_indexes, drop_indexes, atomic=False),
    ]

"""PostgreSQL only: trigram indexes for the order search of a word (`T-Mobile`).

They match the SQL of Django's `icontains` (UPPER(col::text) LIKE UPPER(%s)), so the search
reads the index instead of every order. A no-op on SQLite, which has no pg_trgm.
"""

from django.db import migrations

FIELDS = ["carrier", "model_name"]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for field in FIELDS:
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS order_{field}_trgm_idx ON orders_order "
                f'USING gin (UPPER("{field}"::text) gin_trgm_ops)'
            )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for field in FIELDS:
            cursor.execute(f"DROP INDEX IF EXISTS order_{field}_trgm_idx")


class Migration(migrations.Migration):
    dependencies = [("orders", "0004_order_batch_error_index")]

    operations = [migrations.RunPython(create, drop)]

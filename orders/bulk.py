"""The SQL plumbing of the writes that move many orders at once.

The transitions themselves stay on the model and its manager (orders/models/); this is how
they write in bulk: one transaction and one INSERT of events for a group of transitions
(`transitions_in_bulk`), one UPDATE whose values differ per row (`per_order`), one prepared
UPDATE sent for many rows (`update_each`), one INSERT of a batch's new orders
(`insert_each_imei`), the batch cancel's counted UPDATE on PostgreSQL, and the database's clock
for leases (`from_now`).
"""

import json
import threading
from contextlib import contextmanager

from django.apps import apps
from django.db import connection, models, transaction
from django.db.models import DateTimeField, DurationField, ExpressionWrapper, Value
from django.db.models.functions import Now

_bulk = threading.local()


def event_model():
    return apps.get_model("orders", "OrderEvent")


@contextmanager
def transitions_in_bulk():
    """One transaction for many transitions: their events go in one INSERT at its end.

    Each transition is still its own conditional UPDATE, in this transaction; an error
    anywhere in the block rolls back all of it (no event is written without its UPDATE, and
    no UPDATE without its event). On the driver's thread, it turns a commit (a WAL flush on
    PostgreSQL), a savepoint and an INSERT per transition into one of each per group. The
    block's events are not in the table until its end: move each order once per block. A
    nested block is a savepoint with its own events: an error in it drops both.
    """
    outer = queued_events()
    with transaction.atomic():
        _bulk.events = events = []
        try:
            yield
        finally:
            _bulk.events = outer
        event_model().objects.bulk_create(events)


def queued_events():
    """The events of the `transitions_in_bulk` block under way on this thread, or None."""
    return getattr(_bulk, "events", None)


def save_events(events):
    """Queue the events in the `transitions_in_bulk` block around, or insert them now."""
    queued = queued_events()
    if queued is None:
        event_model().objects.bulk_create(events)
    else:
        queued.extend(events)


def per_order(model, name, changes):
    """An UPDATE's value of field `name` for each row, from `{pk: {name: value}}`.

    One value for all, or a CASE on the id; a row without a value for `name` keeps its own.
    """
    field = model._meta.get_field(name)
    values = {pk: fields[name] for pk, fields in changes.items() if name in fields}
    if len(values) == len(changes) and len(set(values.values())) == 1:
        return Value(next(iter(values.values())), output_field=field)
    whens = [models.When(pk=pk, then=Value(value)) for pk, value in values.items()]
    return models.Case(*whens, default=models.F(name), output_field=field)


def update_each(model, changes, names):
    """Write `{pk: {name: value}}` (the same `names` for each row): one prepared UPDATE, its
    rows sent together. Only for rows this transaction has locked."""
    fields = [model._meta.get_field(name) for name in names]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    sql = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {quote('id')} = %s"
    rows = [
        [field.get_db_prep_save(values[field.name], connection) for field in fields] + [pk]
        for pk, values in changes.items()
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def insert_each_imei(model, given, imeis):
    """One row of `model` per IMEI, in their order: INSERT ... SELECT over the IMEIs passed as
    one array. `given` names the values of some fields; every other column takes its default."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key and f.name != "imei"]
    values = [f.get_db_prep_save(given.get(f.name, f.get_default()), connection) for f in fields]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in [*fields, model._meta.get_field("imei")])
    constants = ", ".join(["%s"] * len(fields))
    if connection.vendor == "postgresql":
        source = "unnest(%s::text[]) WITH ORDINALITY AS given(imei, n) ORDER BY given.n"
        listed = list(imeis)
    else:
        source = "json_each(%s) AS given ORDER BY given.key"
        listed = json.dumps(list(imeis))
    imei = "given.imei" if connection.vendor == "postgresql" else "given.value"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "
            f"SELECT {constants}, {imei} FROM {source}",
            [*values, listed],
        )


def cancel_queued_counted(batch_id, now, queued, cancelled):
    """PostgreSQL: the UPDATE with the row triggers switched off (orders/migrations/0011: the
    counters', and the spend ledger's, which writes nothing for queued -> cancelled), then the
    two counter rows moved by its totals, 'cancelled' before 'queued' (the trigger's lock
    order). Inside the caller's transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('orders.bulk_counts', 'on', true)")
        cursor.execute(
            "WITH moved AS (UPDATE orders_order SET status = %s, finished_at = %s "
            "WHERE batch_id = %s AND status = %s RETURNING cost) "
            "SELECT count(*), coalesce(sum(cost), 0) FROM moved",
            [cancelled, now, batch_id, queued],
        )
        moved, cost = cursor.fetchone()
        cursor.execute("SELECT set_config('orders.bulk_counts', 'off', true)")
        if moved:
            cursor.execute(
                "INSERT INTO orders_batchstatuscount (batch_id, status, orders, cost) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (batch_id, status) DO UPDATE "
                "SET orders = orders_batchstatuscount.orders + EXCLUDED.orders, "
                "cost = orders_batchstatuscount.cost + EXCLUDED.cost",
                [batch_id, cancelled, moved, cost],
            )
            cursor.execute(
                "UPDATE orders_batchstatuscount SET orders = orders - %s, cost = cost - %s "
                "WHERE batch_id = %s AND status = %s",
                [moved, cost, batch_id, queued],
            )
    return moved


def insert_events_of(orders, from_status, detail, actor, at):
    """One event per order of `orders` (from `from_status` to its current status), written by
    the database itself: INSERT ... SELECT, no row through Python."""
    event = event_model()
    quote = connection.ops.quote_name
    columns = ["order_id", "batch_id", "to_status", "from_status", "at", "detail", "actor_id"]
    sql, params = orders.values_list("pk", "batch_id", "status").query.sql_with_params()
    at_value = event._meta.get_field("at").get_db_prep_save(at, connection)
    constants = [from_status, at_value, detail, actor.pk if actor else None]
    statement = (
        f"INSERT INTO {quote(event._meta.db_table)} ({', '.join(quote(c) for c in columns)}) "
        f"SELECT picked.*, %s, %s, %s, %s FROM ({sql}) picked"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [*constants, *params])


def from_now(delta):
    """The database's clock plus `delta`, for leases: hosts' clocks may disagree."""
    return ExpressionWrapper(Now() + Value(delta, DurationField()), output_field=DateTimeField())

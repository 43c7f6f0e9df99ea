"""A batch's statuses over time, as server-rendered inline SVG (no chart library).

The series is rebuilt from OrderEvent rows grouped per minute and transition, walking back from
the current counts: the last point always equals the page's exact numbers, even for orders
created without events (tests, imports of old data).
"""

import math
from datetime import UTC, datetime, timedelta

from django.core.cache import cache
from django.db import connection
from django.db.models import CharField, Count
from django.db.models.functions import Cast, Substr, TruncMinute
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from orders.models import Order, OrderEvent

Status = Order.Status
# Stacked bottom to top; every status belongs to exactly one group.
GROUPS = [
    ("completed", "Completed", "#2e7d32", [Status.COMPLETED]),
    (
        "problem",
        "Rejected, failed, unknown, duplicate",
        "#c62828",
        [Status.REJECTED, *Order.PROBLEM_STATUSES, Status.DUPLICATE],
    ),
    ("cancelled", "Cancelled", "#6d4c41", [Status.CANCELLED]),
    ("waiting", "Sent, awaiting result", "#f9a825", Order.AWAITING_RESULT_STATUSES),
    ("sending", "Sending", "#1565c0", [Status.SUBMITTING]),
    ("queued", "Queued", "#9e9e9e", [Status.QUEUED]),
]
GROUP_OF = {status: key for key, _, _, statuses in GROUPS for status in statuses}
MAX_POINTS = 120
FINISHED_SECONDS = 3600
WIDTH, HEIGHT = 640, 160


def transitions_per_minute(batch):
    """[(minute, from_status, to_status, n)]: one GROUP BY over the batch's events.

    On SQLite the minute is the first 16 characters of the timestamp as text ("2025-11-14
    11:46", in the connection's UTC): TruncMinute costs a Python call per row there, 4x
    slower. On PostgreSQL date_trunc is the cheap one (a cast to text per row is not).
    """
    if connection.vendor == "postgresql":
        minute = TruncMinute("at", tzinfo=UTC)  # date_trunc: cheaper than text on PostgreSQL
    else:
        minute = Substr(Cast("at", output_field=CharField()), 1, 16)
    rows = (
        OrderEvent.objects.filter(batch=batch)
        .annotate(minute=minute)
        .order_by()
        .values_list("minute", "from_status", "to_status")
        .annotate(n=Count("id"))
    )
    return [(parse_minute(m), old, new, n) for m, old, new, n in rows]


def parse_minute(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.strptime(value.replace("T", " "), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def bucket_edges(start, end):
    """At most MAX_POINTS sample times from start to end, a whole number of minutes apart."""
    minutes = max(math.ceil((end - start).total_seconds() / 60), 1)
    step = max(math.ceil(minutes / MAX_POINTS), 1)
    count = minutes // step + 1
    edges = [start + timedelta(minutes=i * step) for i in range(count)]
    return [edge for edge in edges if edge < end] + [end]


def series(counts, rows, edges):
    """Group counts at each edge, going back from `counts` (the numbers now)."""
    current = dict.fromkeys(GROUP_OF.values(), 0)
    for status, n in counts.items():
        current[GROUP_OF[status]] += n
    rows = sorted(rows, key=lambda row: row[0], reverse=True)
    points, index = [], 0
    for edge in reversed(edges):
        while index < len(rows) and rows[index][0] >= edge:
            _, old, new, n = rows[index]
            current[GROUP_OF[new]] -= n  # undo the move: back in its old group
            current[GROUP_OF[old]] += n
            index += 1
        points.append(dict(current))
    return list(reversed(points))


def polygon_points(lower, upper, total):
    """SVG polygon points between two stacked lines, scaled to the chart box."""
    n = len(upper)

    def xy(i, value):
        x = WIDTH * i / max(n - 1, 1)
        y = HEIGHT - HEIGHT * value / total
        return f"{x:.1f},{y:.1f}"

    top = [xy(i, v) for i, v in enumerate(upper)]
    bottom = [xy(i, v) for i, v in reversed(list(enumerate(lower)))]
    return " ".join(top + bottom)


def status_chart(batch, counts, now=None):
    """The chart; a finished batch's is kept in the cache until its counts change.

    The key holds the batch's exact counts and its finish time: any order that moves (a
    re-submit, a late answer) makes a new key, so a cached chart is never out of date.
    """
    if batch.finished_at is None or now is not None:
        return draw_status_chart(batch, counts, now)
    key = "orders:chart:{}:{}:{}".format(
        batch.pk, batch.finished_at.timestamp(), ",".join(str(counts[s]) for s in Status.values)
    )
    return cache.get_or_set(key, lambda: draw_status_chart(batch, counts), FINISHED_SECONDS)


def draw_status_chart(batch, counts, now=None):
    """The inline SVG (safe markup) of the batch's statuses over time, with its legend."""
    now = now or timezone.now()
    total = sum(counts.values())
    start = min(batch.created_at, now).replace(second=0, microsecond=0)
    if not total:
        return format_html("<p class='chart-empty'>{}</p>", "No orders in this batch.")
    points = series(counts, transitions_per_minute(batch), bucket_edges(start, now))
    areas, below = [], [0] * len(points)
    for key, label, color, _ in GROUPS:
        above = [b + p[key] for b, p in zip(below, points, strict=True)]
        areas.append((polygon_points(below, above, total), color, label))
        below = above
    shapes = format_html_join(
        "", "<polygon points='{}' fill='{}'><title>{}</title></polygon>", areas
    )
    legend = format_html_join(
        "",
        "<li><span class='swatch' style='background:{}'></span>{}</li>",
        ((color, label) for _, label, color, _ in GROUPS),
    )
    return format_html(
        "<svg class='status-chart' viewBox='0 0 {} {}' preserveAspectRatio='none' role='img' "
        "aria-label='{}'>{}</svg><ul class='chart-legend'>{}</ul>"
        "<p class='chart-axis'><span>{}</span><span>{}</span></p>",
        WIDTH,
        HEIGHT,
        "Orders per status over time",
        shapes,
        legend,
        timezone.localtime(start).strftime("%Y-%m-%d %H:%M"),
        timezone.localtime(now).strftime("%H:%M"),
    )

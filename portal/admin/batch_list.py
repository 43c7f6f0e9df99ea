"""The batch changelist's rows: what each batch is, how far it got, what it cost, how long.

Every figure comes from the per-(batch, status) counters of the page's batches (one query for
the whole page) and, for running batches only, their observed pace: the page costs the same
with 100 batches or 10,000 in the table.
"""

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from orders.models import Batch, Order

from .batch_page import format_duration
from .counting import fast_action_checkbox
from .stats import counts_by_batch, eta_seconds, money, observed_rate, sent_events, summarise

SOURCE_CHARS = 24
SERVICE_CHARS = 26


class BatchChangeList(ChangeList):
    """Attaches each listed batch's counts (and, when running, its ETA) after paging."""

    def get_results(self, request):
        super().get_results(request)
        batches = list(self.result_list)
        figures = counts_by_batch([batch.pk for batch in batches])
        now = timezone.now()
        for batch in batches:
            counts, batch.cost_total = figures[batch.pk]
            batch.figures = summarise(counts)
            batch.eta = running_eta(batch, counts, now)


def running_eta(batch, counts, now):
    """Seconds until every order is sent, at the batch's observed rate; None if unknown."""
    if batch.state != Batch.State.RUNNING:
        return None
    unsent = sum(counts[s] for s in Order.UNSENT_STATUSES)
    return eta_seconds(unsent, observed_rate(sent_events(batch), now)) if unsent else None


def count(n):
    return number_format(n, force_grouping=True)


class BatchListColumns:
    """The list's columns; goes before admin.ModelAdmin in BatchAdmin's bases."""

    list_display = [
        "id",
        "source",
        "state",
        "progress",
        "completed",
        "problems",
        "open",
        "cost",
        "by",
        "timing",
    ]
    list_display_links = ["id", "source"]
    # About two months of daily batches; each row costs the admin's rendering, not queries.
    list_per_page = 50

    class Media:
        css = {"all": ["portal/portal.css"]}

    def get_changelist(self, request, **kwargs):
        return BatchChangeList

    action_checkbox = fast_action_checkbox

    @admin.display(description="file or paste", ordering="source_name")
    def source(self, batch):
        name = batch.source_name or "pasted IMEIs"
        title = batch.service.title
        return format_html(
            "<span class='batch-source' title='{}'>{}</span>"
            "<span class='batch-service quiet' title='{}'>{}</span>",
            name, Truncator(name).chars(SOURCE_CHARS),
            title, Truncator(title).chars(SERVICE_CHARS),
        )  # fmt: skip

    @admin.display(description="progress")
    def progress(self, batch):
        f = batch.figures
        parts = format_html_join(
            "",
            "<span class='mini-seg seg-{}' style='width: {}%'></span>",
            ((seg["name"], seg["width"]) for seg in f["segments"]),
        )
        return format_html(
            "<span class='mini-bar' title='Sent {} %, final {} % of {} orders'>{}</span> {} %",
            f["sent_percent"], f["final_percent"], count(f["total"]), parts, f["final_percent"],
        )  # fmt: skip

    @admin.display(description="completed")
    def completed(self, batch):
        return count(batch.figures["completed"])

    @admin.display(description="problems")
    def problems(self, batch):
        n = batch.figures["problems"]
        return format_html("<span class='health-bad'>{}</span>", count(n)) if n else "0"

    @admin.display(description="open")
    def open(self, batch):
        return count(batch.figures["open"])

    @admin.display(description="cost")
    def cost(self, batch):
        return f"${money(batch.cost_total)}"

    @admin.display(description="by", ordering="created_by__username")
    def by(self, batch):
        return batch.created_by.get_username() if batch.created_by else "—"

    @admin.display(description="started", ordering="started_at")
    def timing(self, batch):
        if batch.started_at is None:
            return "not started"
        started = timezone.localtime(batch.started_at).strftime("%m-%d %H:%M")
        if batch.finished_at:
            took = (batch.finished_at - batch.started_at).total_seconds()
            after = f"took {format_duration(round(took))}"
        elif batch.eta is not None:
            after = f"ETA {format_duration(batch.eta)}"
        else:
            return started
        return format_html("{}<span class='batch-after quiet'>{}</span>", started, after)

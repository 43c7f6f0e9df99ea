"""The batch page: its context, the JSON progress endpoint and the admin wiring for both.

`BatchPageMixin` goes before `admin.ModelAdmin` in BatchAdmin's bases. The page renders the
numbers once; portal/static/portal/batch_progress.js then asks `<id>/progress.json` every few
seconds and updates them in place (no reload).
"""

from datetime import datetime

from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import number_format

from orders.models import Batch, Order

from .charts import status_chart
from .stats import batch_counts, batch_progress, order_list_url


def format_duration(seconds):
    """'45 s', '6 min 05 s', '12 min', '3 h 05 min'; an em dash when unknown."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def format_ms(ms):
    return "—" if ms is None else f"{ms / 1000:.1f} s"


def format_int(n):
    return number_format(n, force_grouping=True)


def local_time(iso):
    return timezone.localtime(datetime.fromisoformat(iso)).strftime("%H:%M:%S")


def rate_text(rate, progress):
    if rate is not None:
        return f"{rate} / min"
    if progress["state"] == "running":
        return "measuring…"
    average = progress["average_per_minute"]
    return f"{average} / min on average" if average is not None else "—"


def eta_text(seconds, remaining, progress, none_left):
    """An ETA only where it means something: running and sending, something left, a rate
    measured."""
    if remaining == 0:
        return none_left
    if held(progress):
        return "none while sending is stopped"
    if progress["state"] != "running":
        return "—" if progress["finished_at"] else f"{progress['state_label'].lower()}"
    return "measuring…" if seconds is None else f"about {format_duration(seconds)}"


def held(progress):
    """A live batch that sends nothing now: "Stop all sending", the provider down or a spend
    cap reached (`provider` says which)."""
    live = progress["state"] in ("queued", "running")
    return live and (progress["sending_stopped"] or bool(progress["provider"]))


def state_text(progress):
    """'Running', or 'Running, sending stopped' while nothing goes out."""
    if not held(progress):
        return progress["state_label"]
    why = "sending stopped" if progress["sending_stopped"] else "sending held"
    return f"{progress['state_label']}, {why}"


def when_text(progress):
    """'done at 14:05:10, took 6 min 05 s' or 'running for 3 min 10 s'."""
    state = progress["state_label"].lower()
    if progress["finished_at"]:
        took = format_duration(progress["took_seconds"])
        return f"{state} at {local_time(progress['finished_at'])}, took {took}"
    if progress["state"] == "queued":
        return "not started yet"
    return f"{state} for {format_duration(progress['running_seconds'])}"


def progress_display(progress):
    """The page's text for each figure, keyed like the page's data-progress attributes."""
    rate = progress["rate_limit_per_minute"]
    display = {f"count_{status}": format_int(n) for status, n in progress["counts"].items()}
    display.update(
        total=format_int(progress["total"]),
        sent=format_int(progress["sent"]),
        final=format_int(progress["final"]),
        open=format_int(progress["open"]),
        sent_percent=f"{progress['sent_percent']:.1f} %",
        final_percent=f"{progress['final_percent']:.1f} %",
        **{f"seg_{seg['name']}": format_int(seg["count"]) for seg in progress["segments"]},
        throughput=rate_text(progress["throughput_per_minute"], progress),
        results_rate=rate_text(progress["results_per_minute"], progress),
        latency_p50=format_ms(progress["latency_p50_ms"]),
        latency_p95=format_ms(progress["latency_p95_ms"]),
        latency_calls=format_int(progress["latency_calls"]),
        concurrency=str(progress["concurrency"]),
        rate_limit=f"{rate} / min" if rate else "none",
        eta_send=eta_text(progress["eta_send_seconds"], progress["unsent"], progress, "all sent"),
        eta_results=eta_text(progress["eta_results_seconds"], progress["open"], progress, "all in"),
        when=when_text(progress),
        cost_so_far=f"${progress['cost_so_far']}",
        cost_expected=f"${progress['cost_expected']}",
        state=state_text(progress),
        note=progress["note"],
        provider=progress["provider"],
        updated_at=local_time(progress["updated_at"]),
    )
    return display


def progress_payload(batch):
    progress = batch_progress(batch)
    return {**progress, "display": progress_display(progress)}


def batch_links(batch):
    """Links of the batch page: export, the live endpoints and the batch's order lists."""
    return {
        "export": reverse("admin:orders_batch_export", args=[batch.pk]),
        "progress": reverse("admin:orders_batch_progress", args=[batch.pk]),
        "chart": reverse("admin:orders_batch_chart", args=[batch.pk]),
        "orders": order_list_url(batch__id__exact=batch.pk),
        "errors": order_list_url(batch__id__exact=batch.pk, has_error="yes"),
    }


def status_rows(payload, batch):
    """(status, label, count as shown, url) for the counts table."""
    return [
        (
            status,
            status.label,
            payload["display"][f"count_{status}"],
            order_list_url(batch__id__exact=batch.pk, status__exact=status),
        )
        for status in Order.Status
    ]


def batch_page_context(batch):
    payload = progress_payload(batch)
    return {
        "progress": payload,
        "display": payload["display"],
        "status_rows": status_rows(payload, batch),
        "links": batch_links(batch),
        "chart": status_chart(batch, payload["counts"]),
        "poll_seconds": settings.PAGE_REFRESH_SECONDS,
    }


class BatchPageMixin:
    """The batch change view with its live progress panel, and `<id>/progress.json`."""

    change_form_template = "admin/orders/batch/change_form.html"

    def get_urls(self):
        progress = self.admin_site.admin_view(self.progress_view)
        chart = self.admin_site.admin_view(self.chart_view)
        urls = [
            path("<int:object_id>/progress.json", progress, name="orders_batch_progress"),
            path("<int:object_id>/chart/", chart, name="orders_batch_chart"),
        ]
        return urls + super().get_urls()

    def viewable_batch(self, request, object_id):
        batch = Batch.objects.select_related("service").filter(pk=object_id).first()
        if batch is None or not self.has_view_permission(request, batch):
            raise Http404("No such batch.")
        return batch

    def progress_view(self, request, object_id):
        return JsonResponse(progress_payload(self.viewable_batch(request, object_id)))

    def chart_view(self, request, object_id):
        """The status chart alone (an HTML fragment), redrawn by the page every few polls."""
        batch = self.viewable_batch(request, object_id)
        return HttpResponse(status_chart(batch, batch_counts(batch)["counts"]))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update(batch_page_context(obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

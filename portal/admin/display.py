"""Readable, escaped displays for the admin: an order's timeline and a service's notes.

Everything the provider sent (raw answers, result codes, MustRead HTML) is shown as text:
escaped by format_html, or reduced to plain text by strip_tags and then escaped.
"""

import html
import re
from decimal import Decimal

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html, strip_tags
from django.utils.text import Truncator

from orders.models import OrderEvent

from .wording import for_operator, looks_raw

SHORT_NOTE_CHARS = 120
SHORT_SERVICE_CHARS = 22
# Provider text folded away: a summary line, the whole text (escaped) on a click.
FOLDED = "<details class='raw'><summary>{}</summary><pre class='raw-answer'>{}</pre></details>"
# Provider titles start with the reseller's menu code ("10-7.1# Apple ...") and carry emoji.
MENU_CODE = re.compile(r"^[\d.\-]+#\s*")
NOT_TEXT = re.compile(r"[^\w\s.,:;&+/()'\-]+")
INVISIBLE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
LINE_BREAKS = re.compile(r"<br\s*/?>|</p\s*>|</li\s*>", re.IGNORECASE)


def html_to_text(markup):
    """Plain text of provider HTML: scripts and styles dropped, tags stripped, breaks kept.

    The result is text, to be escaped on output like any other (format_html does).
    """
    text = LINE_BREAKS.sub("\n", INVISIBLE.sub("", markup))
    return html.unescape(strip_tags(text)).strip()


def plain_service_title(title):
    """'Apple iPhone IMEI Carrier + Simlock ... Hot Exclusive Checker' for
    '10-7.1# Apple iPhone ... 🔥Hot Exclusive Checker🔥': the menu code and emoji dropped."""
    return " ".join(NOT_TEXT.sub(" ", MENU_CODE.sub("", title)).split()) or title


def short_service_title(title, limit=SHORT_SERVICE_CHARS):
    """'Apple iPhone IMEI Carrier + Simlock…' for '10-7.1# Apple iPhone ... 🔥Hot ...🔥'."""
    return Truncator(plain_service_title(title)).chars(limit)


def money(amount):
    """'$0.08', '$1,600.00': every cost shown with its currency sign."""
    return "" if amount is None else f"${Decimal(amount):,.2f}"


def short_time(moment):
    """'14:05' today, '28 Nov 14:05' this year, else '2025-11-14' (seconds on the order)."""
    if moment is None:
        return ""
    local, now = timezone.localtime(moment), timezone.localtime()
    if local.date() == now.date():
        return f"{local:%H:%M}"
    if local.year == now.year:
        return f"{local:%d %b %H:%M}"
    return f"{local:%Y-%m-%d}"


@admin.display(description="notes")
def must_read_text(service):
    """The provider's MustRead HTML as plain, escaped text (never rendered as HTML)."""
    return format_html("<div class='must-read'>{}</div>", html_to_text(service.must_read))


@admin.display(description="notes")
def must_read_short(service):
    return Truncator(html_to_text(service.must_read)).chars(SHORT_NOTE_CHARS)


class TimelineInline(admin.TabularInline):
    """The order's transitions in order, with the call's latency and the raw answer escaped."""

    model = OrderEvent
    verbose_name = "event"
    verbose_name_plural = "timeline"
    extra = 0
    can_delete = False
    fields = ["time", "transition", "latency", "answer", "actor"]
    readonly_fields = fields

    class Media:
        css = {"all": ["portal/portal.css"]}

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        # Whoever may see the order sees its timeline; no separate event permission.
        return request.user.has_perm("orders.view_order") or request.user.has_perm(
            "orders.change_order"
        )

    @admin.display(description="at")
    def time(self, event):
        local = timezone.localtime(event.at)
        return format_html(
            "<time datetime='{}'>{}</time>", local.isoformat(), f"{local:%Y-%m-%d %H:%M:%S}"
        )

    @admin.display(description="transition")
    def transition(self, event):
        return format_html(
            "<span class='status status-{}'>{}</span> → <span class='status status-{}'>{}</span>",
            event.from_status,
            event.get_from_status_display(),
            event.to_status,
            event.get_to_status_display(),
        )

    @admin.display(description="latency")
    def latency(self, event):
        return "" if event.latency_ms is None else f"{event.latency_ms / 1000:.1f} s"

    @admin.display(description="what happened")
    def answer(self, event):
        """In operators' words; the provider's raw answer folded behind "details"."""
        if not event.detail:
            return ""
        if looks_raw(event.detail):
            return format_html(FOLDED, "The provider's answer (details)", event.detail)
        said = for_operator(event.detail)
        first = Truncator(said.splitlines()[0] if said.strip() else "").chars(70)
        return format_html(FOLDED, first, event.detail)

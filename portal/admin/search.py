"""Looking up many IMEIs at once in the order changelist's search box.

Staff paste a column from a spreadsheet: IMEIs separated by newlines, commas, semicolons or
spaces, up to 30,000 of them, some written with spaces or dashes inside (`351-669784 801844`,
read as one IMEI: orders.imei.pasted_values). The admin's own search would AND one LIKE clause
per word; a query of several IMEIs becomes `imei IN (...)` instead, the page says which IMEIs
have no order and which pasted text is no IMEI, and a pasted list of up to 1,000 IMEIs is shown
in the pasted order.
"""

import re
import secrets

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import CharField, Q, Value
from django.db.models.functions import Concat, StrIndex
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from orders.imei import IMEI_LENGTH as IMEI_DIGITS
from orders.imei import SEPARATORS as IMEI_SEPARATORS
from orders.imei import pasted_values

TERM_SEPARATORS = re.compile(r"[\s,;]+")
MAX_ID_DIGITS = 18  # a provider order id still fits the database's integer
WORD_FIELDS = ["carrier", "model_name"]
IMEI_LIKE = re.compile(r"\d{14,15}")
SHOWN_MISSING = 10
SESSION_KEY = "imei_lists"
KEPT_LISTS = 3
# Up to this many pasted IMEIs, the list shows their orders in the pasted order (found by
# position in the pasted text, row by row); a longer list keeps the newest-first order.
PASTED_ORDER_LIMIT = 1000
NOT_IMEI_SHOWN = 10


def unique(terms):
    return list(dict.fromkeys(terms))


def pasted_imeis(text):
    """(IMEIs in pasted order without repeats, values that are no IMEI) of a pasted list.

    Spaces and dashes inside an IMEI are what staff meant: `351-669784 801844` is one.
    """
    imeis, other = [], []
    for _, value in pasted_values(text):
        bare = IMEI_SEPARATORS.sub("", value)
        (imeis if IMEI_LIKE.fullmatch(bare) else other).append(
            bare if IMEI_LIKE.fullmatch(bare) else value
        )
    return unique(imeis), other


def not_imei_message(values):
    shown = ", ".join(f"“{v[:40]}”" for v in values[:NOT_IMEI_SHOWN])
    more = f" and {len(values) - NOT_IMEI_SHOWN} more" if len(values) > NOT_IMEI_SHOWN else ""
    noun = "is not an IMEI" if len(values) == 1 else "are not IMEIs"
    return f"Left out what {noun} (an IMEI has 15 digits): {shown}{more}."


def pasted_ordering(request):
    """The order list's ordering for a pasted list: the pasted order; None otherwise."""
    imeis = request.session.get(SESSION_KEY, {}).get(
        request.GET.get(ImeiListFilter.parameter_name) or ""
    )
    if not imeis or len(imeis) > PASTED_ORDER_LIMIT:
        return None
    # Where ",<imei>," sits in ",<pasted>,": one parameter, not one CASE clause per IMEI.
    pasted = Value("," + ",".join(imeis) + ",")
    position = StrIndex(pasted, Concat(Value(","), "imei", Value(","), output_field=CharField()))
    return [position.asc(), "-id"]


def imei_terms(search_term):
    """The IMEIs of a multi-IMEI query, in order and without repeats; None for other queries.

    One IMEI written with spaces or dashes (`351-669784 801844`) counts as such a query too:
    the admin's own search would look for each piece on its own and find nothing.
    """
    imeis, other = pasted_imeis(search_term)
    if other or not imeis or (len(imeis) == 1 and search_term.strip() == imeis[0]):
        return None
    return imeis


def chunks(values, size=None):
    """Slices small enough for the database's limit on query parameters."""
    size = size or max((connection.features.max_query_params or 1000) - 50, 100)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def found_imeis(queryset, imeis):
    """The IMEIs of `imeis` that have at least one order in `queryset`, chunked."""
    found = set()
    for chunk in chunks(imeis):
        matches = queryset.filter(imei__in=chunk).order_by()
        found.update(matches.values_list("imei", flat=True).distinct())
    return found


def missing_message(missing):
    shown = ", ".join(missing[:SHOWN_MISSING])
    more = f" and {len(missing) - SHOWN_MISSING} more" if len(missing) > SHOWN_MISSING else ""
    noun = "IMEI has" if len(missing) == 1 else "IMEIs have"
    return f"{len(missing)} {noun} no order here: {shown}{more}."


def narrow_to_imeis(request, queryset, imeis):
    """Orders of `queryset` with one of `imeis`; a warning lists the IMEIs without one."""
    found = found_imeis(queryset, imeis)
    missing = [imei for imei in imeis if imei not in found]
    if missing:
        messages.warning(request, missing_message(missing))
    # Only IMEIs that exist go into the page's query: usually far fewer parameters.
    return queryset.filter(imei__in=sorted(found))


def save_imei_list(request, imeis):
    """Keep a pasted list in the session (a URL cannot carry 30,000 IMEIs); returns its key."""
    lists = request.session.get(SESSION_KEY, {})
    lists = dict(list(lists.items())[-(KEPT_LISTS - 1) :])
    key = secrets.token_urlsafe(6)
    lists[key] = imeis
    request.session[SESSION_KEY] = lists
    return key


class ImeiListFilter(admin.SimpleListFilter):
    """Applies a list pasted into the "many IMEIs" box (kept in the session)."""

    title = "pasted IMEIs"
    parameter_name = "imei_list"

    def imeis(self, request):
        return request.session.get(SESSION_KEY, {}).get(self.value() or "")

    def lookups(self, request, model_admin):
        imeis = self.imeis(request)
        return [(self.value(), f"{len(imeis):,} pasted IMEIs")] if imeis else []

    def queryset(self, request, queryset):
        imeis = self.imeis(request)
        return queryset if imeis is None else narrow_to_imeis(request, queryset, imeis)


def number_condition(term):
    """An IMEI (whole, or its first digits) or a provider order id: index lookups only.

    A prefix is a range on the IMEI index (every IMEI has 15 digits), not a LIKE.
    """
    condition = Q(remote_id=int(term)) if len(term) <= MAX_ID_DIGITS else Q(pk__in=[])
    if len(term) == IMEI_DIGITS:
        return condition | Q(imei=term)
    if len(term) < IMEI_DIGITS:
        low, high = term.ljust(IMEI_DIGITS, "0"), term.ljust(IMEI_DIGITS, "9")
        return condition | Q(imei__gte=low, imei__lte=high)
    return condition


def word_condition(term):
    """A word of a result: carrier or model (trigram-indexed on PostgreSQL)."""
    condition = Q(pk__in=[])
    for field in WORD_FIELDS:
        condition |= Q(**{f"{field}__icontains": term})
    return condition


def split_terms(text):
    return [term for term in TERM_SEPARATORS.split(text) if term]


def search_condition(search_term):
    """One number: an IMEI or an order id. Otherwise words, each found in the result."""
    terms = split_terms(search_term)
    if len(terms) == 1 and terms[0].isdigit():
        return number_condition(terms[0])
    condition = Q()
    for term in terms:
        condition &= word_condition(term)
    return condition


class MultiImeiSearchMixin:
    """Goes before admin.ModelAdmin: the order search, on indexes only.

    Several IMEIs become `imei__in`; one number is an IMEI (or its first digits) or an order
    id; a word (`T-Mobile`) is looked for in the carrier and the model. The "many IMEIs" box
    that posts to `imei_list_view` is in OrderAdmin's list template.
    """

    search_help_text = (
        "An IMEI (or its first digits) or provider order id, several IMEIs separated by spaces "
        "or commas, or a carrier or model (T-Mobile)."
    )

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        imeis = imei_terms(search_term)
        if imeis is None:
            return queryset.filter(search_condition(search_term)), False
        return narrow_to_imeis(request, queryset, imeis), False

    def get_urls(self):
        view = self.admin_site.admin_view(require_POST(self.imei_list_view))
        return [path("imeis/", view, name="orders_order_imei_list")] + super().get_urls()

    def imei_list_view(self, request):
        """POST of the "many IMEIs" box: keep the list, show the changelist filtered by it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = reverse("admin:orders_order_changelist")
        imeis, other = pasted_imeis(request.POST.get("imeis", ""))
        if other:
            messages.warning(request, not_imei_message(other))
        if not imeis:
            messages.warning(request, "Paste at least one IMEI.")
            return HttpResponseRedirect(changelist)
        return HttpResponseRedirect(f"{changelist}?imei_list={save_imei_list(request, imeis)}")

"""Operators' words for what the engine records in its own: what happened and what to do.

The engine's texts (an order's last error, an event's detail, the dispatcher's last error)
are written for the log. Pages show them through `for_operator`, which turns the known
internal phrasings into the business's words and keeps anything raw from the provider (XML,
HTML, PHP output) out of the sentence: `raw_answer` is shown behind a "details" toggle.
"""

import re

from django.utils.html import format_html
from django.utils.text import Truncator

# The error kinds the engine prefixes (submissions.provider.ProviderError.kind).
KINDS = {
    "permanent": "The provider refused the order: {}",
    "transient": "The provider could not take orders for a moment (they are sent again by "
    "themselves): {}",
    "unknown_outcome": "The provider may or may not have placed an order; the portal checks by "
    "itself: {}",
    "auth": "The provider did not accept our account's login; fix the account settings, then "
    "resume: {}",
    "duplicate": "The provider already holds this IMEI for the service: {}",
}
KIND_PREFIX = re.compile("^(" + "|".join(KINDS) + "): ")
# Internal notes and what they mean for an operator.
PHRASES = [
    (
        re.compile(r"^Claimed ahead and not sent: .*"),
        "Put back in the queue before it was sent (nothing sent, nothing charged). "
        "No action needed.",
    ),
    (
        re.compile(r"^Not sent, provider unreachable \(no attempt counted\): .*"),
        "Not sent: the provider was not answering. It is sent again by itself; nothing to do.",
    ),
]
RAW_MARKUP = re.compile(r"<\?|<(xml|html|body|error|result|!doctype)\b", re.IGNORECASE)
SHORT = 160


def looks_raw(text):
    """Provider output (XML, HTML, a PHP warning) rather than a sentence."""
    return bool(RAW_MARKUP.search(text or ""))


def for_operator(text):
    """The sentence an operator reads for an engine text ('' stays '')."""
    text = (text or "").strip()
    for pattern, words in PHRASES:
        if pattern.match(text):
            return words
    kind = KIND_PREFIX.match(text)
    if kind:
        rest = text[kind.end() :]
        return KINDS[kind.group(1)].format(summary(rest))
    return summary(text)


def summary(text):
    """A provider answer that is raw markup becomes a plain sentence; a long one is cut."""
    if looks_raw(text):
        return "The provider answered in a form the portal could not read (see details)."
    return Truncator(text).chars(SHORT) if len(text) > SHORT else text


def with_details(text):
    """The operator's sentence, and the raw text behind a "details" toggle when it differs."""
    said = for_operator(text)
    if not text or said == text:
        return said
    return format_html(
        "<span class='reason'>{}</span>"
        "<details class='raw'><summary>details</summary><pre class='raw-answer'>{}</pre></details>",
        said,
        text,
    )


CONTROL_LABELS = {
    "concurrency": "Concurrency",
    "rate_per_minute": "Calls per minute",
    "sending_stopped": "Sending",
}


def control_value(field, value):
    if field == "sending_stopped":
        return "stopped" if value == "True" else "on"
    if value in ("", None):
        return "the default"
    if field == "rate_per_minute" and value == "0":
        return "no limit"
    return value


def control_change_text(change):
    """'Concurrency: the default → 5', 'Sending: on → stopped' for a ControlChange."""
    label = CONTROL_LABELS.get(change.field, change.field)
    old = control_value(change.field, change.old_value)
    new = control_value(change.field, change.new_value)
    return f"{label}: {old} → {new}"

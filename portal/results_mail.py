"""The results e-mail: a finished batch's counts, spend and results file, to its importer.

Only to an importer who opted in (`MailSetting.batch_results`) and has an address; once per
batch (`Batch.claim_results_mail`, a conditional UPDATE). The file is the Advanced Export as
XLSX, attached up to RESULTS_MAIL_MAX_ATTACHMENT_BYTES; above that, a link to the export.
Sent by a task once the batch's completion commits, never inside the driver's turn.
"""

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Count, Sum
from django.urls import reverse

from orders.models import Batch, Order
from submissions.models import MailSetting

from .admin.exports import XLSX_TYPE, xlsx_file

TASK = "portal.results_mail.send_results"


def batch_finished(sender, batch, **kwargs):
    """The `batch_finished` receiver: queue the mail once the completion is committed."""
    user = batch.created_by_id
    if user and batch.results_mailed_at is None and MailSetting.wants_results(user):
        transaction.on_commit(lambda: enqueue(batch.pk))


def enqueue(batch_id):
    from django_q.tasks import async_task

    async_task(TASK, batch_id, q_options={"save": False})


def send_results(batch_id):
    """Mail the batch's results to its importer if they asked for it; True when sent."""
    batch = Batch.objects.select_related("created_by", "service").get(pk=batch_id)
    user = batch.created_by
    if user is None or not user.email or not MailSetting.wants_results(user):
        return False
    if not batch.claim_results_mail():
        return False
    message = EmailMessage(subject(batch), body(batch), to=[user.email])
    attach_or_link(message, batch)
    message.send()
    return True


def subject(batch):
    return f"Batch {batch.pk} done: {batch.orders.count():,} orders ({batch.source_name})"


def body(batch):
    counts = batch.orders.order_by().values_list("status").annotate(n=Count("id"))
    spend = batch.orders.aggregate(spend=Sum("cost"))["spend"] or 0
    lines = [f"Batch {batch.pk} for {batch.service.title} is done.", ""]
    lines += [f"{Order.Status(status).label}: {n:,}" for status, n in sorted(counts)]
    lines += ["", f"Spend: ${spend:,.2f}", f"Batch page: {absolute(batch_url(batch))}"]
    return "\n".join(lines)


def attach_or_link(message, batch):
    file = xlsx_file(batch.orders.order_by("id"))
    data = file.read()
    if len(data) <= settings.RESULTS_MAIL_MAX_ATTACHMENT_BYTES:
        message.attach(f"batch-{batch.pk}-advanced-export.xlsx", data, XLSX_TYPE)
    else:
        url = reverse("admin:orders_batch_export", args=[batch.pk]) + "?format=xlsx"
        message.body += f"\n\nThe results file is too large to attach: {absolute(url)}"


def batch_url(batch):
    return reverse("admin:orders_batch_change", args=[batch.pk])


def absolute(path):
    return settings.PORTAL_URL + path

"""The results e-mail of a finished batch: to its importer, if they opted in, once."""

import io

from django.core import mail
from openpyxl import load_workbook

from orders.models import Batch, Order
from portal import results_mail
from submissions.driver import claims
from submissions.models import MailSetting
from tests.fixtures.factories import make_batch, make_order, valid_imei

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def finished_batch(user):
    batch = make_batch(user=user, source_name="lot-7.csv")
    make_order(batch, status=Order.Status.COMPLETED, imei=valid_imei(1), carrier="T-Mobile")
    Order.objects.filter(batch=batch).update(cost="0.08")
    make_order(batch, status=Order.Status.FAILED, imei=valid_imei(2))
    return batch


def test_a_finished_batch_mails_its_importer_the_results_file(
    staff_user, django_capture_on_commit_callbacks, monkeypatch
):
    MailSetting.objects.create(user=staff_user, batch_results=True)
    batch = finished_batch(staff_user)
    monkeypatch.setattr(results_mail, "enqueue", results_mail.send_results)

    with django_capture_on_commit_callbacks(execute=True):
        assert claims.finish_batches() == 1

    [message] = mail.outbox
    assert message.to == ["staff@example.com"]
    assert message.subject == f"Batch {batch.pk} done: 2 orders (lot-7.csv)"
    assert "Completed: 1\nFailed: 1\n\nSpend: $0.08" in message.body
    [(name, data, content_type)] = message.attachments
    assert (name, content_type) == (f"batch-{batch.pk}-advanced-export.xlsx", XLSX)
    rows = list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))
    assert [row[1] for row in rows[1:]] == [valid_imei(1), valid_imei(2)]
    assert rows[1][6] == "T-Mobile"


def test_it_mails_once(staff_user):
    MailSetting.objects.create(user=staff_user, batch_results=True)
    batch = finished_batch(staff_user)
    Batch.objects.filter(pk=batch.pk).update(state=Batch.State.DONE)

    assert [results_mail.send_results(batch.pk) for _ in range(2)] == [True, False]
    assert len(mail.outbox) == 1


def test_it_mails_no_one_who_did_not_opt_in(staff_user):
    batch = finished_batch(staff_user)
    Batch.objects.filter(pk=batch.pk).update(state=Batch.State.DONE)

    assert results_mail.send_results(batch.pk) is False
    assert mail.outbox == []


def test_a_large_results_file_comes_as_a_link(staff_user, settings):
    settings.RESULTS_MAIL_MAX_ATTACHMENT_BYTES = 100
    settings.PORTAL_URL = "https://portal.example"
    MailSetting.objects.create(user=staff_user, batch_results=True)
    batch = finished_batch(staff_user)
    Batch.objects.filter(pk=batch.pk).update(state=Batch.State.DONE)

    results_mail.send_results(batch.pk)

    [message] = mail.outbox
    assert message.attachments == []
    link = f"https://portal.example/admin/orders/batch/{batch.pk}/export/?format=xlsx"
    assert message.body.endswith(f"The results file is too large to attach: {link}")


def test_a_user_opts_in_on_their_own_mail_settings(staff_client, staff_user):
    staff_client.post(
        "/admin/submissions/mailsetting/add/", {"user": staff_user.pk, "batch_results": "on"}
    )

    assert MailSetting.wants_results(staff_user)

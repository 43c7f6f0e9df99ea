"""The audit trail: every action that moves money or sending, append-only and hash-chained.

Each record carries the hash of the one before it (`prev_hash`) and its own hash over its
fields and that link, so changing, inserting or removing a record in the middle breaks the
chain: `manage.py verifyaudit` recomputes it. Records are appended under a table lock, so two
writers never both chain onto the same predecessor.
"""

import hashlib
import json
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from .models import AuditRecord

GENESIS = "0" * 64


def digest(record):
    """The record's hash: SHA-256 over its fields and its predecessor's hash."""
    fields = {
        "at": record.at.isoformat(),
        "username": record.username,
        "action": record.action,
        "amount": None if record.amount is None else f"{record.amount:.2f}",
        "detail": record.detail,
        "prev": record.prev_hash,
    }
    text = json.dumps(fields, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def record(user, action, detail="", amount=None):
    """Append one record (in the caller's transaction, if any); returns it."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {AuditRecord._meta.db_table} IN EXCLUSIVE MODE")
        last = AuditRecord.objects.order_by("-id").values_list("hash", flat=True).first()
        entry = AuditRecord(
            at=timezone.now().replace(microsecond=0),
            user=user if getattr(user, "pk", None) else None,
            username=getattr(user, "username", "") or "",
            action=action,
            amount=amount,
            detail=detail,
            prev_hash=last or GENESIS,
        )
        entry.hash = digest(entry)
        entry.save()
    return entry


@dataclass(frozen=True)
class Broken:
    record_id: int
    reason: str


def verify(chunk=2000):
    """Walk the chain in id order; returns (records checked, the first break or None)."""
    previous, checked = GENESIS, 0
    for entry in AuditRecord.objects.order_by("id").iterator(chunk_size=chunk):
        if entry.prev_hash != previous:
            return checked, Broken(entry.pk, "its link does not match the record before it")
        if digest(entry) != entry.hash:
            return checked, Broken(entry.pk, "its contents do not match its hash")
        previous, checked = entry.hash, checked + 1
    return checked, None

"""The audit trail as CSV, streamed: every cell redacted and kept from being read as a spreadsheet formula."""

import csv

from django.http import StreamingHttpResponse
from django.utils import timezone

from telegram_payments.redaction import redact

CSV_COLUMNS = [
    "event_id", "received_at", "event_type", "status", "source", "initiated_by", "customer_id", "amount",
    "currency", "telegram_payment_charge_id", "provider_payment_charge_id", "invoice_payload",
    "entitlement_type", "refund_reason", "error", "note", "attempts", "processed_at",
]


class _Echo:
    def write(self, value):
        return value


def csv_cell(value) -> str:
    text = "" if value is None else redact(str(value))
    # A cell starting with = + - @ is a formula to a spreadsheet: quote it so it stays text.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text
    return text


def csv_filename() -> str:
    return f"audit-events-{timezone.now():%Y%m%d-%H%M%S}.csv"


def csv_response(queryset, filename: str | None = None) -> StreamingHttpResponse:
    """The events of `queryset`, oldest first, as a CSV download."""
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(CSV_COLUMNS)
        for event in queryset.select_related("initiated_by").order_by("received_at", "pk").iterator(
            chunk_size=2000
        ):
            yield writer.writerow([csv_cell(value) for value in (
                event.event_id, event.received_at.isoformat(), event.event_type, event.get_status_display(),
                event.source, event.initiated_by.get_username() if event.initiated_by_id else "",
                event.customer_id, event.amount_cents, event.currency, event.telegram_payment_charge_id,
                event.provider_payment_charge_id, event.invoice_payload, event.entitlement_type,
                event.refund_reason, event.error, event.note, event.attempts,
                event.processed_at.isoformat() if event.processed_at else "",
            )])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename or csv_filename()}"'
    return response

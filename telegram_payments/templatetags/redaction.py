"""`{% load redaction %}` then `{{ value|redact }}`: a template shows a value with its secrets redacted."""

from django import template

from telegram_payments.redaction import redact as redact_value

register = template.Library()


@register.filter
def redact(value):
    return redact_value(value if isinstance(value, (str, dict, list)) or value is None else str(value))

"""The relay serializers share one bound set of fields per class (SharedFieldsMixin): instances must
still share no values and no errors, also when validating at the same time in several threads."""

from concurrent.futures import ThreadPoolExecutor

from telegram_payments.serializers import RefundRelaySerializer, SuccessfulPaymentRelaySerializer


def body(n):
    return {"user_id": n, "entitlement_type": "premium_monthly", "invoice_id": "", "total_amount": 250 + n,
            "telegram_payment_charge_id": f"c{n}", "currency": "XTR"}


def validate(n):
    data = body(n) if n % 3 else {**body(n), "total_amount": "many"}  # every third one invalid
    serializer = SuccessfulPaymentRelaySerializer(data=data)
    if serializer.is_valid():
        return n, dict(serializer.validated_data), None
    return n, None, serializer.errors


def test_instances_share_no_values_or_errors_across_threads():
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(validate, range(1, 601)))
    for n, validated, errors in results:
        if n % 3:
            assert errors is None
            assert (validated["user_id"], validated["total_amount"], validated["telegram_payment_charge_id"]) == (
                n, 250 + n, f"c{n}")
            assert validated["provider_payment_charge_id"] == ""  # the default, not another body's value
        else:
            assert validated is None and set(errors) == {"total_amount"}


def test_each_class_has_its_own_fields():
    assert set(SuccessfulPaymentRelaySerializer().fields) != set(RefundRelaySerializer().fields)
    assert set(RefundRelaySerializer().fields) == {"user_id", "entitlement_type", "telegram_payment_charge_id",
                                                   "refund_reason"}

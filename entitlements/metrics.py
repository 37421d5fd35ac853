"""The outbox's Prometheus counter, and the counter types both apps build theirs from.

Prometheus is optional (the `metrics` extra): without `prometheus_client` installed, `Counter` and
`Histogram` make metrics that count nothing, so that no code path changes with it.
"""

try:
    from prometheus_client import Counter, Histogram
except ImportError:  # pragma: no cover - exercised in a project installed without the extra
    class _Unrecorded:
        """A metric that records nothing: `labels(...)` returns itself, `inc`/`observe` do nothing."""

        def labels(self, *args, **kwargs):
            return self

        def inc(self, amount=1):
            pass

        def observe(self, value):
            pass

    def Counter(*args, **kwargs):  # noqa: N802 - stands in for prometheus_client's class
        return _Unrecorded()

    Histogram = Counter

OUTBOX_DELIVERIES = Counter(
    "entitlements_outbox_delivery_attempts",
    "Attempts to deliver an outbox message to ENTITLEMENTS_SERVICE_URL, by result (delivered, failed).",
    ["result"],
)

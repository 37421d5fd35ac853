"""Reconciliation with Telegram: what `getStarTransactions` and `getMyStarBalance` say against our
audit trail.

Telegram's list is the truth about money. Every transaction is classified (transactions.py): our
sales and refunds are matched to the audit trail and the missing ones recorded on request
(compare.py); everything else Telegram moved is summarised by kind, and the balance it reports is
set beside what the audit trail implies, the difference explained by kind (ledger.py). run.py is
one run of all that.
"""

from telegram_payments.reconcile.compare import MISSING_PAYMENT, MISSING_REFUND, ONLY_HERE, Difference, record_charge
from telegram_payments.reconcile.run import ATTENTION, CLEAN, MISSING, Reconciliation, reconcile_stars
from telegram_payments.reconcile.transactions import MAX_PAGE_SIZE

__all__ = [
    "ATTENTION", "CLEAN", "MAX_PAGE_SIZE", "MISSING", "MISSING_PAYMENT", "MISSING_REFUND", "ONLY_HERE",
    "Difference", "Reconciliation", "reconcile_stars", "record_charge",
]

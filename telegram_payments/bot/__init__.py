"""What a Bot API Update means.

* `updates`: `process_update`, the one entry point for a Bot API Update (webhook and replays);
* `payments`: payment and refund messages, handed to the payment pipeline, and the buyer's thanks;
* `precheckout`: answers to pre-checkout queries, checked against the invoice we issued;
* `subscription_updates`: a user cancelled or re-enabled renewals, or a renewal failed;
* `commands`: the chat commands (`/buy`, `/status`, ...) and the buy buttons;
* `results`: how an update went.

The Bot API client and replies are in `telegram_api`; buyer notices and the customer rows in `payments`.
"""

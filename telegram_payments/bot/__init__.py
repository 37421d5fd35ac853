"""Everything that talks with Telegram as a bot.

* `client`: the one way this service calls the Bot API;
* `updates`: `process_update`, the one entry point for a Bot API Update (webhook and replays);
* `payments`: payment and refund messages, handed to the payment pipeline, and the buyer's thanks;
* `precheckout`: answers to pre-checkout queries, checked against the invoice we issued;
* `commands`: the chat commands (`/buy`, `/status`, ...) and the buy buttons;
* `replies`: `sendMessage` replies, as a webhook answer or as a call;
* `notices`: messages to a buyer sent once after staff acted (replay, grant) or a policy refund.
"""

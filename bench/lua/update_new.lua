-- (6) new successful_payment Bot API Updates, as Telegram sends them to POST /webhook/telegram: a new
-- update, charge and buyer each time, all paying the invoice link bench/run.py creates. A payment recorded
-- now is answered with the buyer's thank-you (a sendMessage): the ack recorded is its chat id, the buyer.
expect, record_acks, ack_pattern = '"method":"sendMessage"', true, '"chat_id":(%d+)'
function request()
  local n = sent + 1
  local user = user_base + round * 100000000 + tid * 10000000 + n
  return post("/webhook/telegram", string.format(
    '{"update_id": %d, "message": {"message_id": %d, "from": {"id": %d, "is_bot": false, "first_name": "B"}, '
    .. '"chat": {"id": %d, "type": "private", "first_name": "B"}, "date": 1795000000, "successful_payment": '
    .. '{"currency": "XTR", "total_amount": 250, "invoice_payload": "bench-link", '
    .. '"telegram_payment_charge_id": "%s", "provider_payment_charge_id": ""}}}',
    user, n, user, user, runid .. "-u-" .. prefix .. n))
end
function scenario_init()
  user_base = 500000000 + 1000000000 + tonumber(string.match(runid, "(%d+)$")) * 1000000000
end

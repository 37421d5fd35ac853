-- (3) refunds of the payments made in (1): each thread refunds its own share (refund-input-<tid>.txt,
-- lines "<charge> <user>"); when its share runs out it refunds charges never paid (counted apart).
expect, record_acks = '"status":"processed"', true
charges, users = {}, {}
function scenario_init()
  for line in io.lines(outdir .. "/refund-input-" .. tid .. ".txt") do
    local charge, user = string.match(line, "^(%S+) (%d+)$")
    table.insert(charges, charge)
    table.insert(users, tonumber(user))
  end
end
function request()
  local n = sent + 1
  local charge, user = charges[n], users[n]
  if charge == nil then
    fresh = fresh + 1
    charge, user = runid .. "-unpaid-" .. prefix .. n, 1
  end
  return post("/webhook/telegram/refund", string.format(
    '{"user_id": %d, "entitlement_type": "premium_monthly", "telegram_payment_charge_id": "%s", '
    .. '"refund_reason": "bench"}', user, charge))
end

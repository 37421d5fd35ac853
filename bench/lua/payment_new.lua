-- (1) new successful_payment deliveries: every request a new charge from a new user.
expect, record_acks = '"status":"processed"', true
function request()
  local n = sent + 1
  return post("/webhook/telegram/successful_payment",
              payment_body(runid .. "-p-" .. prefix .. n, user_base + round * 100000000 + tid * 10000000 + n))
end
function scenario_init()
  user_base = 1000000000 + tonumber(string.match(runid, "(%d+)$")) * 1000000000
end

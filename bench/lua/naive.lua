-- (7) the naive peer view (bench/views.py NaivePaymentView): the relay body, a new charge and buyer each time.
expect, record_acks = '"status":"processed"', true
function request()
  local n = sent + 1
  return post("/bench/naive-payment",
              payment_body(runid .. "-n-" .. prefix .. n, user_base + round * 100000000 + tid * 10000000 + n))
end
function scenario_init()
  user_base = 700000000 + 1000000000 + tonumber(string.match(runid, "(%d+)$")) * 1000000000
end

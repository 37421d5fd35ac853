-- (9) copies of one payment with other bytes (a relay's delivery counter): never answered from memory.
expect = '"status":"duplicate"'
function request()
  local n = sent + 1
  return post("/webhook/telegram/successful_payment", string.sub(dup_body, 1, -2) .. ', "delivery": "' .. prefix .. n .. '"}')
end
function scenario_init()
  dup_body = payment_body(runid .. "-dup", 999)
end

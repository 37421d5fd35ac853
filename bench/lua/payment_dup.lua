-- (2) duplicate deliveries of one payment (bench/run.py delivers it once first).
expect = '"status":"duplicate"'
function request()
  return post("/webhook/telegram/successful_payment", dup_body)
end
function scenario_init()
  dup_body = payment_body(runid .. "-dup", 999)
end

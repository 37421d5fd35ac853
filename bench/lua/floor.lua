-- (5) the durability floor: a payment-shaped body inserted as one row in its own transaction.
expect = '"ok":true'
function request()
  return post("/bench/sql-insert", payment_body(runid .. "-f-" .. prefix .. sent, 1))
end

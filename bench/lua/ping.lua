-- (4) the trivial DRF endpoint: GET /bench/ping
expect = '"ok":true'
function request()
  sent = sent + 1
  return wrk.format("GET", "/bench/ping")
end

-- (8) the trivial DRF endpoint, as a POST with a small JSON body: POST /bench/ping
expect = '"ok":true'
function request()
  return post("/bench/ping", '{"ok": true}')
end

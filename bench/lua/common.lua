-- Shared by every scenario (bench/run.py prepends it). Per-thread state lives in globals; setup()
-- and done() run in wrk's main Lua state and read the threads' counters back.
-- args (after --): outdir runid secret round; charge ids start with <runid>-<kind>-<round>-<thread>-
local threads, thread_count = {}, 0

function setup(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

sent, unexpected, acked, fresh = 0, 0, 0, 0
-- what an answer must contain; whether to record acks, and what of the answer (by default its event id)
record_acks, expect, ack_pattern = false, nil, '"event_id":"([^"]+)"'

function init(args)
  outdir, runid, secret, round = args[1], args[2], args[3], tonumber(args[4])
  prefix = round .. "-" .. tid .. "-"
  headers = {["Content-Type"] = "application/json", ["X-Telegram-Bot-Api-Secret-Token"] = secret}
  if scenario_init then scenario_init() end
  if record_acks then
    ack_file = io.open(outdir .. "/acks-" .. tid .. ".txt", "w")
    ack_file:setvbuf("line")
  end
end

function response(status, hdrs, body)
  if status ~= 200 or (expect and not string.find(body, expect, 1, true)) then
    unexpected = unexpected + 1
    if unexpected <= 3 then io.stderr:write("unexpected answer ", status, ": ", body or "", "\n") end
  elseif record_acks then
    acked = acked + 1
    ack_file:write(string.match(body, ack_pattern), "\n")
  end
end

function post(path, body)
  sent = sent + 1
  return wrk.format("POST", path, headers, body)
end

function payment_body(charge, user)
  return string.format('{"user_id": %d, "entitlement_type": "premium_monthly", "invoice_id": "", '
    .. '"telegram_payment_charge_id": "%s", "provider_payment_charge_id": "", '
    .. '"total_amount": 250, "currency": "XTR"}', user, charge)
end

function done(summary, latency, requests)
  local total_sent, total_unexpected, total_acked, total_fresh = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    total_sent = total_sent + t:get("sent")
    total_unexpected = total_unexpected + t:get("unexpected")
    total_acked = total_acked + t:get("acked")
    total_fresh = total_fresh + t:get("fresh")
  end
  local e = summary.errors
  io.write(string.format('BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
    .. '"socket_errors": %d, "non_2xx": %d, "timeouts": %d, "sent": %d, "unexpected": %d, "acked": %d, "fresh": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write, e.status, e.timeout, total_sent, total_unexpected, total_acked, total_fresh))
end

-- wrk script for the closed-loop scenarios (bench/lib/wrk-load.ts runs it):
--   wrk ... -s requests.lua <url> -- <mode> <args...>
--   charge <token> <requestIdPrefix> <wallets> <hot 0|1>  first charges, a new requestId each
--   replay <token> <file of "userId requestId" lines>     requests charged earlier, in turn
--   balance <file of user tokens>                          GET /v1/balance, each by its own user
--   holds <token> <requestIdPrefix> <wallets>              a hold, and once it is granted its settle
--   webhook <file of "<Stripe-Signature> <event>" lines>   Stripe events, signed beforehand, each once
-- Each thread counts answers by status; done() prints one "WRKJSON {...}" line with the totals and
-- the latency percentiles in ms, which wrk-load.ts reads. With WRK_IDS_FILE set, the requestId of
-- every 201 answer is written there, one per line, so the bench can check each against the ledger.
-- WRK_THREADS (set by wrk-load.ts) is the thread count, so webhook threads can split the events.
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

-- every line of a file, or (with a stride) only this thread's share: lines tid, tid + stride, ...
local function lines(file, stride)
  local out, i = {}, 0
  for line in io.lines(file) do
    if line ~= "" then
      i = i + 1
      if not stride or (i - 1) % stride == tid - 1 then table.insert(out, line) end
    end
  end
  return out
end

local charge = '{"userId":"%s","requestId":"%s","model":"gpt-4o-mini","inputTokens":100,"outputTokens":50}'
local hold = '{"userId":"%s","requestId":"%s","model":"gpt-4o-mini","maxInputTokens":200,"maxOutputTokens":100}'
local next_request, on_answer

function init(args)
  counts = {}
  ids = {}
  sent, settled, distinct = 0, 0, 0
  collect = os.getenv("WRK_IDS_FILE") ~= nil
  -- wrk builds one request in the first thread's state before the run, to check the script; it is never sent
  verifying = tid == 1
  local mode = args[1]
  local seq = 0
  math.randomseed(os.time() * 1000 + tid)
  if mode == "charge" then
    local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. args[2] }
    local prefix, wallets, hot = args[3] .. "t" .. tid .. "-", tonumber(args[4]), args[5] == "1"
    next_request = function()
      seq = seq + 1
      local user = hot and 1 or math.random(wallets)
      return wrk.format("POST", "/v1/usage/reconcile", headers, string.format(charge, "bench-" .. user, prefix .. seq))
    end
  elseif mode == "replay" then
    local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. args[2] }
    local charged = lines(args[3])
    seq = tid -- threads start at different places in the list
    next_request = function()
      seq = seq % #charged + 1
      local user, request = charged[seq]:match("^(%S+) (%S+)$")
      return wrk.format("POST", "/v1/usage/reconcile", headers, string.format(charge, user, request))
    end
  elseif mode == "balance" then
    local tokens = lines(args[2])
    seq = tid
    next_request = function()
      seq = seq % #tokens + 1
      return wrk.format("GET", "/v1/balance", { ["Authorization"] = "Bearer " .. tokens[seq] })
    end
  elseif mode == "holds" then
    local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. args[2] }
    local prefix, wallets = args[3] .. "t" .. tid .. "-", tonumber(args[4])
    local settles, first, last = {}, 1, 0 -- granted holds waiting for their settle, oldest first
    next_request = function()
      if first <= last then
        local user, request = settles[first][1], settles[first][2]
        settles[first], first = nil, first + 1
        return wrk.format("POST", "/v1/usage/reconcile", headers, string.format(charge, user, request))
      end
      seq = seq + 1
      local user = "bench-" .. math.random(wallets)
      return wrk.format("POST", "/v1/usage/holds", headers, string.format(hold, user, prefix .. seq))
    end
    -- wrk asks for a connection's next request right after its answer, so a settle usually follows its
    -- hold on the same connection; it may go out on another of the thread's connections
    on_answer = function(status, body)
      if status ~= 201 then return end
      if body:find('"holdId"', 1, true) then
        last = last + 1
        settles[last] = { body:match('"userId":"([^"]+)"'), body:match('"requestId":"([^"]+)"') }
      elseif body:find('"usageId"', 1, true) then
        settled = settled + 1
      end
    end
  elseif mode == "webhook" then
    local events = lines(args[2], tonumber(os.getenv("WRK_THREADS") or "1"))
    next_request = function()
      seq = seq % #events + 1
      distinct = math.max(distinct, seq)
      local signature, event = events[seq]:match("^(%S+) (.*)$")
      local headers = { ["Content-Type"] = "application/json", ["Stripe-Signature"] = signature }
      return wrk.format("POST", "/v1/webhooks/stripe", headers, event)
    end
  else
    error("unknown mode " .. tostring(mode))
  end
end

function request()
  if verifying then
    verifying = false
    return wrk.format("GET", "/")
  end
  sent = sent + 1
  return next_request()
end

function response(status, _, body)
  counts[status] = (counts[status] or 0) + 1
  if collect and status == 201 then
    table.insert(ids, body:match('"requestId":"([^"]+)"') or "?")
  end
  if on_answer then on_answer(status, body) end
end

function done(summary, latency)
  local statuses, sum = {}, { sent = 0, settled = 0, distinct = 0 }
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("counts")) do
      statuses[tostring(status)] = (statuses[tostring(status)] or 0) + n
    end
    for key in pairs(sum) do sum[key] = sum[key] + thread:get(key) end
  end
  local file = os.getenv("WRK_IDS_FILE")
  if file then
    local out = assert(io.open(file, "w"))
    for _, thread in ipairs(threads) do
      for _, id in ipairs(thread:get("ids")) do out:write(id, "\n") end
    end
    out:close()
  end
  local parts = {}
  for status, n in pairs(statuses) do table.insert(parts, string.format('"%s":%d', status, n)) end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"sent":%d,"settled":%d,"distinctSent":%d,"durationUs":%d,"p50":%.3f,"p95":%.3f,' ..
      '"p99":%.3f,"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"statuses":{%s}}\n',
    summary.requests, sum.sent, sum.settled, sum.distinct, summary.duration, latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, e.connect, e.read, e.write, e.timeout,
    table.concat(parts, ",")))
end

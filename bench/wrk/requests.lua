-- wrk script for the closed-loop scenarios (bench/lib/wrk-load.ts runs it):
--   wrk ... -s requests.lua <url> -- <mode> <args...>
--   charge <token> <requestIdPrefix> <wallets> <hot 0|1>  first charges, a new requestId each
--   replay <token> <file of "userId requestId" lines>     requests charged earlier, in turn
--   balance <file of user tokens>                          GET /v1/balance, each by its own user
-- Each thread counts answers by status; done() prints one "WRKJSON {...}" line with the totals and
-- the latency percentiles in ms, which wrk-load.ts reads. With WRK_IDS_FILE set, the requestId of
-- every 201 answer is written there, one per line, so the bench can check each against the ledger.
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local function lines(file)
  local out = {}
  for line in io.lines(file) do
    if line ~= "" then table.insert(out, line) end
  end
  return out
end

local charge = '{"userId":"%s","requestId":"%s","model":"gpt-4o-mini","inputTokens":100,"outputTokens":50}'
local next_request

function init(args)
  counts = {}
  ids = {}
  collect = os.getenv("WRK_IDS_FILE") ~= nil
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
  else
    error("unknown mode " .. tostring(mode))
  end
end

function request()
  return next_request()
end

function response(status, _, body)
  counts[status] = (counts[status] or 0) + 1
  if collect and status == 201 then
    table.insert(ids, body:match('"requestId":"([^"]+)"') or "?")
  end
end

function done(summary, latency)
  local statuses = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("counts")) do
      statuses[tostring(status)] = (statuses[tostring(status)] or 0) + n
    end
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
    'WRKJSON {"requests":%d,"durationUs":%d,"p50":%.3f,"p95":%.3f,"p99":%.3f,"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"statuses":{%s}}\n',
    summary.requests, summary.duration, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, e.connect, e.read, e.write, e.timeout, table.concat(parts, ",")))
end

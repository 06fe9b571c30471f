-- wrk script for the paced (open-loop) charge scenario (bench/lib/wrk-load.ts runs it, one thread):
--   wrk -t 1 -c <connections> -d <seconds + grace> -s paced.lua <url> -- <token> <prefix> <wallets> <rate> <seconds>
-- Charge i falls due at start + i / rate. A connection that is free asks delay() for the next due time
-- (wrk's timers count whole ms: rounded down, so a charge leaves up to ~2 ms early rather than late, and
-- wrk's lateness does not land in the percentiles) and sends when it comes; when every connection is busy,
-- a due charge waits for one. Latency runs from the due time (or from the send, if a timer fired before it), so a
-- server that falls behind shows in the percentiles instead of slowing the sender: no coordinated
-- omission. wrk's own latency counts from the write, so this script keeps its own: each 201 names its
-- requestId, which carries the charge's number. After <seconds> nothing more is sent; wrk's extra
-- seconds let the answers in flight arrive. done() prints "WRKJSON {...}" like requests.lua.
local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *t);
]])
local ts = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local thread_of -- done() runs in the main state; the one thread's globals are read through this
function setup(thread)
  thread_of = thread
end

local charge = '{"userId":"bench-%d","requestId":"%s%d","model":"gpt-4o-mini","inputTokens":100,"outputTokens":50}'
local headers, prefix, wallets

-- globals: what done() reads from the thread
function init(args)
  headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. args[1] }
  prefix, wallets = args[2], tonumber(args[3])
  interval, window = 1000 / tonumber(args[4]), tonumber(args[5]) * 1000
  total = math.floor(tonumber(args[4]) * tonumber(args[5]) + 1e-9) -- due before the deadline
  start, reserved, sent, last_answer, unmatched = 0, 0, 0, 0, 0
  counts, latencies, origins = {}, {}, {} -- origins: charge number -> when its latency starts counting
  math.randomseed(os.time())
end

-- Called when a connection is free: it takes the next due time and waits for it; at the deadline, stops.
function delay()
  local t = now_ms()
  if start == 0 then start = t end
  if reserved >= total or t - start >= window then return 24 * 3600 * 1000 end
  local due = start + reserved * interval
  reserved = reserved + 1
  return math.max(0, math.floor(due - t))
end

function request()
  -- wrk builds one request before the run to check the script (never sent): it takes no number
  if start == 0 then return wrk.format("POST", "/v1/usage/reconcile", headers, "{}") end
  local n = sent
  sent = sent + 1
  origins[n] = math.min(start + n * interval, now_ms()) -- due, or the send if a timer fired early
  return wrk.format("POST", "/v1/usage/reconcile", headers, string.format(charge, math.random(wallets), prefix, n))
end

function response(status, _, body)
  local t = now_ms()
  counts[status] = (counts[status] or 0) + 1
  last_answer = t
  local n = tonumber(body:match('"requestId":"[^"]-(%d+)"'))
  if n and origins[n] then
    latencies[#latencies + 1] = t - origins[n]
    origins[n] = nil
  else
    unmatched = unmatched + 1 -- an answer that names no charge of ours (not a 201): counted, not timed
  end
end

local function percentile(sorted, p)
  if #sorted == 0 then return 0 end
  return sorted[math.max(1, math.ceil(p / 100 * #sorted))]
end

function done(summary)
  local t = thread_of
  local lat = t:get("latencies")
  table.sort(lat)
  local parts = {}
  for status, n in pairs(t:get("counts")) do table.insert(parts, string.format('"%d":%d', status, n)) end
  local sent = t:get("sent")
  local answered = #lat + t:get("unmatched")
  local e = summary.errors
  local duration = math.max(t:get("last_answer") - t:get("start"), t:get("window"))
  io.write(string.format(
    'WRKJSON {"requests":%d,"sent":%d,"unsent":%d,"durationUs":%d,"p50":%.3f,"p95":%.3f,"p99":%.3f,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"unanswered":%d},"statuses":{%s}}\n',
    answered, sent, t:get("total") - sent, duration * 1000, percentile(lat, 50), percentile(lat, 95),
    percentile(lat, 99), e.connect, e.read, e.write, e.timeout, sent - answered, table.concat(parts, ",")))
end

-- Word-cloud answers for wrk: POST /api/v1/polls/{id}/words, one answer per user.
--
--   wrk -t1 -c C -d D -s bench/words.lua URL -- PREFIX ANSWERS POLL DISTINCT RATE
--
-- PREFIX: token prefix (user i's token is PREFIX..i, see bench/seed.py; user 0 made the poll);
-- request k (0 .. ANSWERS - 1) is user k + 1's answer, word_for(k, DISTINCT) of
-- bench/wordcloud.py (a Zipf-like choice, the same formula), so the words each answer gives
-- are known without reading the replies. RATE: answers a second, on a fixed schedule (a
-- connection free at an answer's time sends it then; when all C are waiting for replies,
-- the next answer goes as soon as one is free, late: the server then sets the pace). Once every
-- answer has its reply it prints "BENCH_ALL_ANSWERED", on which bench/wrk.py stops wrk, so
-- no answer is cut off in flight; done() prints one line, "BENCH_JSON {...}", with the
-- statuses and latency percentiles. Run it with one thread (-t1): wrk's first call of
-- request() on thread 1 only checks the request, and is not counted.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local ffi = require("ffi")  -- Debian's wrk is built with LuaJIT
ffi.cdef([[
  typedef struct { long tv_sec; long tv_nsec; } timespec;
  int clock_gettime(int clock, timespec *now);
]])
local timespec = ffi.new("timespec")

local function now_ms()
  ffi.C.clock_gettime(1, timespec)  -- CLOCK_MONOTONIC
  return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
end

local prefix, answers, path, distinct, rate
local k, replies, verified, booked, started = 0, 0, false, 0, nil
c200, c201, cother, issued = 0, 0, 0, 0
others = {}
local weights, total = {}, 0

function init(args)
  prefix = args[1]
  answers = tonumber(args[2])
  path = "/api/v1/polls/" .. args[3] .. "/words"
  distinct = tonumber(args[4])
  rate = tonumber(args[5])
  for n = 1, distinct do
    weights[n] = 1 / n
    total = total + weights[n]
  end
end

local function word_for(index)
  local point = ((index * 2654435761) % 10000) / 10000 * total
  for n = 1, distinct do
    point = point - weights[n]
    if point <= 0 then return "word" .. n end
  end
  return "word" .. distinct
end

-- Each call books the next answer's time on the schedule (answer n at n / RATE seconds from
-- the first), for the connection that asked: the wait until then, none if it is past.
function delay()
  if booked >= answers then return 600000 end  -- done: wait for the last replies, then stop
  started = started or now_ms()
  local due = started + booked * 1000 / rate
  booked = booked + 1
  return math.max(0, due - now_ms())
end

function request()
  -- A connection whose pause began before the last answer went out: a 404 (not counted).
  if k >= answers then return wrk.format("GET", "/api/v1/polls/0") end
  local body = '{"answer":"' .. word_for(k) .. '"}'
  local headers = {
    ["Authorization"] = "Bearer " .. prefix .. (k + 1),
    ["Content-Type"] = "application/json",
  }
  if verified then  -- wrk's first call only checks the request (it is not sent)
    k = k + 1
    issued = issued + 1
  end
  verified = true
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  if status == 404 then return end
  replies = replies + 1
  if replies == answers then  -- bench/wrk.py stops wrk on this line, and times it
    io.write("BENCH_ALL_ANSWERED\n")
    io.flush()
  end
  if status == 201 then
    c201 = c201 + 1
  elseif status == 200 then
    c200 = c200 + 1
  else
    cother = cother + 1
    others[status] = (others[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local t201, t200, tother, tissued = 0, 0, 0, 0
  local statuses = {}
  for _, thread in ipairs(threads) do
    t201 = t201 + thread:get("c201")
    t200 = t200 + thread:get("c200")
    tother = tother + thread:get("cother")
    tissued = tissued + thread:get("issued")
    for status, n in pairs(thread:get("others")) do
      statuses[#statuses + 1] = '"' .. status .. '":' .. n
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"issued":%d,"s201":%d,"s200":%d,"other":%d,'
      .. '"other_statuses":{%s},"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,'
      .. '"status":%d},"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, tissued, t201, t200, tother,
    table.concat(statuses, ","), e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end

-- Vote ingest for wrk: POST /api/v1/polls/{id}/votes, each request a new (user, poll) pair.
--
--   wrk -t T -c C -d D -s bench/ingest.lua URL -- PREFIX MAX_USERS THREADS POLLS
--
-- PREFIX: token prefix (user i's token is PREFIX..i, see bench/seed.py); MAX_USERS: users
-- available; THREADS: the -t value; POLLS: "id:opt,opt,opt,opt;id:opt,..." for the polls.
-- Request number k (threads take k = tid, tid + T, tid + 2T, ...) goes to poll k % P from
-- user k // P, for option (k // P) % options: so no pair repeats and every 201 is one new vote.
-- A thread stops by itself when it runs out of users. Statuses are counted per thread and
-- done() prints one JSON line, "BENCH_JSON {...}", with the totals and latency percentiles.
-- With -H "Connection: close" every vote comes on a new connection, as from a new client.
-- wrk stops with up to one request per connection in flight: "issued" minus the responses
-- counted is that number, and each of those votes may or may not have been stored.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local prefix, max_users, nthreads, polls, npolls
local tid, k, maxk
-- Globals, not locals: done() reads them from each thread with thread:get().
c200, c201, cother, issued = 0, 0, 0, 0
others = {}

function init(args)
  prefix = args[1]
  max_users = tonumber(args[2])
  nthreads = tonumber(args[3])
  polls = {}
  for spec in string.gmatch(args[4], "[^;]+") do
    local id, opts = string.match(spec, "(%d+):([%d,]+)")
    local options = {}
    for opt in string.gmatch(opts, "%d+") do table.insert(options, opt) end
    table.insert(polls, { path = "/api/v1/polls/" .. id .. "/votes", options = options })
  end
  npolls = #polls
  tid = wrk.thread:get("tid")
  k = tid
  maxk = max_users * npolls
end

function request()
  if k >= maxk then
    wrk.thread:stop()
    return wrk.format("GET", "/api/v1/polls/0")
  end
  local poll = polls[(k % npolls) + 1]
  local user = math.floor(k / npolls)
  local option = poll.options[(user % #poll.options) + 1]
  k = k + nthreads
  issued = issued + 1
  local headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end  -- keeps -H headers
  headers["Authorization"] = "Bearer " .. prefix .. user
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", poll.path, headers, '{"option_id":' .. option .. '}')
end

function response(status, headers, body)
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
      .. '"status":%d},"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, tissued, t201, t200, tother,
    table.concat(statuses, ","), e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean))
end

-- wrk script for benches/load/run.sh: every request records a contribution
-- (POST /api/v1/pools/{id}/contributions, 1.00 in cash) with a fresh
-- Idempotency-Key, rotating over the pools given. Counts the answers by
-- status and keeps the id of every contribution answered 2xx, so the
-- harness can check afterwards that each acknowledged write is booked
-- exactly once.
--
-- Environment: LOAD_TOKEN (bearer token), LOAD_POOLS (pool ids, comma
-- separated), LOAD_RUN (a tag unique to this run: keys never repeat across
-- runs), LOAD_OUT (where done() writes the summary JSON; the acknowledged
-- ids go to LOAD_OUT .. ".acked", one a line).

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  token = os.getenv("LOAD_TOKEN")
  run = os.getenv("LOAD_RUN")
  pools = {}
  for id in string.gmatch(os.getenv("LOAD_POOLS"), "[^,]+") do
    pools[#pools + 1] = id
  end
  sent = 0
  statuses = {}
  acked = {}
  unparsed = 0
  path_prefix = "/api/v1/pools/"
  body = '{"amount":"1.00","method":"cash"}'
end

function request()
  sent = sent + 1
  -- Threads start at different pools and step through all of them.
  local pool = pools[((sent + tid * 7) % #pools) + 1]
  return wrk.format("POST", path_prefix .. pool .. "/contributions", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = run .. "-" .. tid .. "-" .. sent,
  }, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status >= 200 and status < 300 then
    local id = string.match(body, '"id":"([^"]+)"')
    if id then
      acked[#acked + 1] = id
    else
      unparsed = unparsed + 1
    end
  end
end

local function json_statuses(all)
  local parts = {}
  for status, count in pairs(all) do
    parts[#parts + 1] = string.format('"%d":%d', status, count)
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
  local all, sent_total, unparsed_total = {}, 0, 0
  local out = os.getenv("LOAD_OUT")
  local ids = io.open(out .. ".acked", "w")
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      all[status] = (all[status] or 0) + count
    end
    for _, id in ipairs(thread:get("acked")) do
      ids:write(id, "\n")
    end
    sent_total = sent_total + thread:get("sent")
    unparsed_total = unparsed_total + thread:get("unparsed")
  end
  ids:close()
  local e = summary.errors
  local f = io.open(out, "w")
  f:write(string.format(
    '{"duration_us":%d,"requests":%d,"sent":%d,"statuses":%s,"unparsed_2xx":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.duration, summary.requests, sent_total, json_statuses(all), unparsed_total,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
  f:close()
end

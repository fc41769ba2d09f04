-- wrk script: GET one path again and again (a download link, a redirect), counting statuses;
-- given several paths, each connection takes them in turn.
--
--   wrk ... -s bench/get.lua URL -- PATH [PATH ...]
--
-- done() prints one line "BENCH_RESULT {json}" that bench/load.py reads, as submissions.lua does.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  paths = args
  next_path = (id or 0) * 31  -- threads start apart
  statuses = {}
  replayed = 0
end

function request()
  next_path = next_path % #paths + 1
  return wrk.format("GET", paths[next_path])
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local codes = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      codes[status] = (codes[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(codes) do
    table.insert(parts, string.format('"%d":%d', status, count))
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"statuses":{%s},"replayed":0,"connect":%d,"read":%d,"write":%d,' ..
    '"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, table.concat(parts, ","), errors.connect, errors.read,
    errors.write, errors.timeout))
end

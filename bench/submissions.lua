-- wrk script: JSON submissions the way the embed sends them, each with a fresh e-mail and its
-- own Idempotency-Key; a share of them may reuse an e-mail (a known person submits again) or
-- resend an earlier request unchanged (a retry with the same key and body).
--
--   wrk ... -s bench/submissions.lua URL -- PATH TOKEN RUN REUSE_EMAIL REUSE_KEY
--
-- REUSE_EMAIL and REUSE_KEY are shares between 0 and 1. done() prints one line
-- "BENCH_RESULT {json}" that bench/load.py reads.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  path = args[1]
  token = args[2]
  run = args[3]
  reuse_email = tonumber(args[4])
  reuse_key = tonumber(args[5])
  counter = 0
  emails = {}
  sent = {}
  statuses = {}
  replayed = 0
  math.randomseed(id * 7919 + counter)
end

local function post(key, body)
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/json",
    ["Origin"] = "https://www.partner.example",
    ["Idempotency-Key"] = key,
  }, body)
end

function request()
  counter = counter + 1
  local roll = math.random()
  if roll < reuse_key and #sent > 0 then
    local earlier = sent[math.random(#sent)]
    return post(earlier[1], earlier[2])
  end
  local email
  if roll < reuse_key + reuse_email and #emails > 0 then
    email = emails[math.random(#emails)]
  else
    email = string.format("p%s-%d-%d@bench.example", run, id, counter)
    table.insert(emails, email)
  end
  local key = string.format("k%s-%d-%d", run, id, counter)
  local body = string.format(
    '{"fields":{"email":"%s","first_name":"%s","company":"Firma %d ApS"},' ..
    '"consents":{"processing":true,"marketing":%s},' ..
    '"context":{"page_url":"https://www.partner.example/guide","referrer":' ..
    '"https://www.google.com/","utm_source":"linkedin","utm_medium":"paid",' ..
    '"utm_campaign":"q4"},"token":"%s"}',
    email, "\\u00c5se", counter, counter % 2 == 0 and "true" or "false", token)
  if reuse_key > 0 and #sent < 5000 then
    table.insert(sent, {key, body})
  end
  return post(key, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if headers["Idempotent-Replayed"] or headers["idempotent-replayed"] then
    replayed = replayed + 1
  end
end

function done(summary, latency, requests)
  local codes = {}
  local replays = 0
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      codes[status] = (codes[status] or 0) + count
    end
    replays = replays + thread:get("replayed")
  end
  local parts = {}
  for status, count in pairs(codes) do
    table.insert(parts, string.format('"%d":%d', status, count))
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"statuses":{%s},"replayed":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, table.concat(parts, ","), replays, errors.connect, errors.read,
    errors.write, errors.timeout))
end

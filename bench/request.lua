-- wrk script for every bench/run.sh scenario: one request shape, set by the environment.
--
--   BENCH_METHOD   GET or POST (default POST)
--   BENCH_AUTH     Authorization header value, e.g. "Basic <base64(id:secret)>" (optional)
--   BENCH_BODY     form body; "{token}" in it is replaced by the next line of BENCH_TOKENS
--   BENCH_TOKENS   file of single-use values (codes, refresh tokens), one a line
--   BENCH_OFFSET   first line of BENCH_TOKENS to use, 0-based (earlier runs used the rest)
--   BENCH_EXPECT   text every 2xx body must contain (a 2xx without it counts as bad)
--
-- The path is the URL's, as given to wrk. With BENCH_TOKENS each thread takes every
-- n-th line (thread i: lines offset+i, offset+i+n, ...), so no value is sent twice;
-- when a thread runs out it starts again from its first line and those requests fail
-- (counted as "exhausted": pre-create more). Prints one BENCH_RESULT line for run.sh;
-- "next_offset" is where the next run on the same file should start.

local method = os.getenv("BENCH_METHOD") or "POST"
local auth = os.getenv("BENCH_AUTH") or ""
local body = os.getenv("BENCH_BODY") or ""
local tokens_file = os.getenv("BENCH_TOKENS") or ""
local offset = tonumber(os.getenv("BENCH_OFFSET") or "0")
local expect = os.getenv("BENCH_EXPECT") or ""

local prefix, suffix = body, nil
local at = string.find(body, "{token}", 1, true)
if at ~= nil then
  if tokens_file == "" then
    error("BENCH_BODY has {token} but BENCH_TOKENS is not set")
  end
  prefix, suffix = string.sub(body, 1, at - 1), string.sub(body, at + 7)
end

wrk.method = method
wrk.headers["Accept"] = "application/json"
if auth ~= "" then
  wrk.headers["Authorization"] = auth
end
if method == "POST" then
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.body = body
end

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

-- Per-thread state is global: done() reads it back with thread:get.
local values, next_value, template_request

function init(args)
  non2xx, bad_body, exhausted = 0, 0, 0
  statuses = {}
  first_bad = nil
  last_line = -1
  if suffix == nil then
    template_request = wrk.format()
    return
  end
  -- thread_index was set by setup(); BENCH_THREADS_TOTAL is wrk's -t.
  values = {}
  local line_no = 0
  local step = tonumber(os.getenv("BENCH_THREADS_TOTAL") or "1")
  for line in io.lines(tokens_file) do
    if line_no >= offset and (line_no - offset) % step == thread_index then
      table.insert(values, { line, line_no })
    end
    line_no = line_no + 1
  end
  next_value = 1
end

function request()
  if suffix == nil then
    return template_request
  end
  if #values == 0 then
    -- Earlier runs used up every value this thread could take: nothing valid to send.
    exhausted = exhausted + 1
    return wrk.format(nil, nil, nil, prefix .. suffix)
  end
  if next_value > #values then
    next_value = 1
    exhausted = exhausted + 1
  end
  local entry = values[next_value]
  next_value = next_value + 1
  if entry[2] > last_line then
    last_line = entry[2]
  end
  return wrk.format(nil, nil, nil, prefix .. entry[1] .. suffix)
end

function response(status, headers, resp_body)
  local bad = status < 200 or status >= 300
  if not bad and expect ~= "" and string.find(resp_body or "", expect, 1, true) == nil then
    bad_body = bad_body + 1
    bad = true
  elseif bad then
    non2xx = non2xx + 1
    local key = tostring(status)
    statuses[key] = (statuses[key] or 0) + 1
  end
  if bad and first_bad == nil then
    first_bad = status .. " " .. string.sub(resp_body or "", 1, 300)
  end
end

function done(summary, latency, requests)
  local total = { non2xx = 0, bad_body = 0, exhausted = 0 }
  local by_status = {}
  local sample = nil
  local next_offset = offset
  for _, thread in ipairs(threads) do
    for name, _ in pairs(total) do
      total[name] = total[name] + (thread:get(name) or 0)
    end
    for code, n in pairs(thread:get("statuses") or {}) do
      by_status[code] = (by_status[code] or 0) + n
    end
    sample = sample or thread:get("first_bad")
    local last = thread:get("last_line") or -1
    if last + 1 > next_offset then
      next_offset = last + 1
    end
  end

  local parts = {}
  for code, n in pairs(by_status) do
    table.insert(parts, code .. ":" .. n)
  end
  table.sort(parts)
  local status_text = #parts > 0 and table.concat(parts, ",") or "-"

  local e = summary.errors
  local seconds = summary.duration / 1e6
  local rps = seconds > 0 and summary.requests / seconds or 0
  if sample ~= nil then
    io.write("first bad response: " .. sample .. "\n")
  end
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d "
      .. "non2xx=%d bad_body=%d exhausted=%d statuses=%s next_offset=%d "
      .. "connect_err=%d read_err=%d write_err=%d timeout_err=%d\n",
    summary.requests, summary.duration, rps,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    total.non2xx, total.bad_body, total.exhausted, status_text, next_offset,
    e.connect, e.read, e.write, e.timeout))
end

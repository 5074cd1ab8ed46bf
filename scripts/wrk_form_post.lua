-- wrk script of scripts/bench_throughput: the same form POST on every request, and a one-line JSON summary.
-- Environment: WRK_BODY (the urlencoded form; empty for a GET), WRK_AUTH (the Authorization header value).
local body = os.getenv("WRK_BODY") or ""
if body == "" then
  wrk.method = "GET"
else
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
wrk.headers["Authorization"] = os.getenv("WRK_AUTH")

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"non_2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end

-- wrk script for the `refresh` scenario: the same POST latch-bench sends (RFC 6749 §6),
-- and one JSON line at the end for bench/run.sh (latencies in microseconds).
wrk.method = "POST"
wrk.body = "grant_type=refresh_token&refresh_token=bench-refresh-token-0123456789abcdef" ..
           "&client_id=latch-bench"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Accept"] = "application/json"
wrk.headers["User-Agent"] = "latchkey/0.1"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"wrk_requests":%d,"duration_us":%d,"socket_errors":%d,"status_errors":%d,' ..
    '"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end

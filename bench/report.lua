-- wrk script that adds one machine-readable summary line to wrk's normal output, so run.sh
-- never has to parse wrk's human units ("1.23MB", "61.7k"). Requests are wrk's default ones,
-- so -H headers still apply.
--
--   BENCH requests=N bytes=N duration_us=N connect=N read=N write=N status=N timeout=N
--
-- status counts responses with a status >= 400 (wrk's "Non-2xx or 3xx responses").

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d bytes=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
      summary.requests, summary.bytes, summary.duration,
      e.connect, e.read, e.write, e.status, e.timeout))
end

-- wrk script: PROPFIND with Depth: 1 and an allprop body, what a WebDAV client sends to list
-- a folder. Also prints report.lua's summary line ($BENCH_DIR is the folder of these scripts).
-- wrk's default request() formats wrk.method, wrk.headers and wrk.body once per thread, and
-- adds the Content-Length of the body.

dofile(os.getenv("BENCH_DIR") .. "/report.lua")

wrk.method = "PROPFIND"
wrk.headers["Depth"] = "1"
wrk.headers["Content-Type"] = 'application/xml; charset="utf-8"'
wrk.body = '<?xml version="1.0" encoding="utf-8"?>\n'
   .. '<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>\n'

-- wrk script: GET the paths listed in the file named by $BENCH_PATHS (one URL path a line),
-- round-robin, each wrk thread starting at a different offset. Also prints report.lua's
-- summary line ($BENCH_DIR is the folder of these scripts).

dofile(os.getenv("BENCH_DIR") .. "/report.lua")

local paths = {}
local paths_file = os.getenv("BENCH_PATHS")
if paths_file == nil then
   error("mixed.lua: set BENCH_PATHS to a file of URL paths")
end
for line in io.lines(paths_file) do
   if line ~= "" then
      paths[#paths + 1] = line
   end
end

-- setup() runs in the main Lua state once per thread: hand each thread its number.
local threads = 0
function setup(thread)
   thread:set("thread_id", threads)
   threads = threads + 1
end

-- Pre-format every request once (as wrk's own default does): the script should cost wrk as
-- little as possible, since wrk shares the 2 cores with the server under test.
local requests = {}
local counter = 0
function init(args)
   for i, path in ipairs(paths) do
      requests[i] = wrk.format("GET", path)
   end
   -- thread_id is nil in the main state; threads spread over the list.
   counter = ((thread_id or 0) * 97) % #requests
end

function request()
   counter = counter % #requests + 1
   return requests[counter]
end

-- wrk script for bench/growth.py: the score.lua request, sent to several paths in turn.
--   wrk ... -s bench/rotate.lua URL -- BODY_FILE AUTHORIZATION PATH [PATH ...]
-- Each thread formats one request per path in init(); request() hands them out in turn (a table
-- lookup, no formatting per request), each thread starting at another path.

local requests = {}
local count = 0
local next_one = 1

function init(args)
   local file = assert(io.open(args[1], "rb"))
   local body = file:read("*a")
   file:close()
   local headers = {["Content-Type"] = "application/json", ["Authorization"] = args[2]}
   for i = 3, #args do
      count = count + 1
      requests[count] = wrk.format("POST", args[i], headers, body)
   end
   if count == 0 then
      error("rotate.lua: give the body file, the authorization and at least one path after --")
   end
   next_one = math.random(count)
end

function request()
   local r = requests[next_one]
   next_one = next_one % count + 1
   return r
end

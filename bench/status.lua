-- wrk script for bench/growth.py: score.lua's request, counting the answers by status.
--   wrk ... -s bench/status.lua URL -- BODY_FILE AUTHORIZATION
-- Prints "statuses: ok=N refused=M other=K" at the end (refused = 503). A response() callback
-- costs wrk some Lua per answer: use it for large requests, where that is negligible.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   local file = assert(io.open(args[1], "rb"))
   wrk.body = file:read("*a")
   file:close()
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Authorization"] = args[2]
   ok, refused, other = 0, 0, 0
end

function response(status, headers, body)
   if status >= 200 and status < 300 then
      ok = ok + 1
   elseif status == 503 then
      refused = refused + 1
   else
      other = other + 1
   end
end

function done(summary, latency, requests)
   local o, r, x = 0, 0, 0
   for _, thread in ipairs(threads) do
      o = o + thread:get("ok")
      r = r + thread:get("refused")
      x = x + thread:get("other")
   end
   io.write(string.format("statuses: ok=%d refused=%d other=%d\n", o, r, x))
end

-- wrk script for bench/run.py: POST one fixed body, with an optional Authorization header and Content-Type.
--   wrk ... -s bench/score.lua URL -- BODY_FILE [AUTHORIZATION] [CONTENT_TYPE]
-- The body is read once per wrk thread in init(); wrk builds the request after init() returns,
-- so every request is the same bytes and wrk itself does no per-request Lua work.

function init(args)
   local path = args[1]
   if path == nil then
      error("score.lua: give the body file after --")
   end
   local file = assert(io.open(path, "rb"))
   wrk.body = file:read("*a")
   file:close()
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   if args[2] ~= nil and args[2] ~= "" then
      wrk.headers["Authorization"] = args[2]
   end
   if args[3] ~= nil and args[3] ~= "" then
      wrk.headers["Content-Type"] = args[3]
   end
end

-- One wrk script for every scenario, configured from the environment:
--   BENCH_METHOD    GET (default) or POST
--   BENCH_BODY      JSON request body (sent with Content-Type: application/json)
--   BENCH_AUTH      value of the Authorization header, e.g. "Bearer eyJ…" or "Token 3f…"
--   BENCH_REGISTER  "1": every request registers a new user with a unique name
--                   (r<tag>_<thread>_<counter>) and BENCH_PASSWORD
--   BENCH_TAG       run tag, keeps names unique across runs on one database
local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY") or ""
local auth = os.getenv("BENCH_AUTH") or ""
local register = os.getenv("BENCH_REGISTER") == "1"
local tag = os.getenv("BENCH_TAG") or "x"
local password = os.getenv("BENCH_PASSWORD") or "Bench-pass-2024!"

wrk.method = method
if body ~= "" then
  wrk.body = body
end
if body ~= "" or register then
  wrk.headers["Content-Type"] = "application/json"
end
if auth ~= "" then
  wrk.headers["Authorization"] = auth
end

local next_id = 0
function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
end

if register then
  local counter = 0
  request = function()
    counter = counter + 1
    local name = string.format("r%s_%d_%d", tag, tid or 0, counter)
    local b = string.format('{"username":"%s","email":"%s@example.com","password":"%s"}',
      name, name, password)
    return wrk.format("POST", nil, nil, b)
  end
end

-- One wrk script for every scenario, configured from the environment:
--   BENCH_METHOD    GET (default) or POST
--   BENCH_BODY      JSON request body (sent with Content-Type: application/json)
--   BENCH_AUTH      value of the Authorization header, e.g. "Bearer eyJ…" or "Token 3f…"
--   BENCH_REGISTER  "1": every request registers a new user with a unique name
--                   (r<tag>_<thread>_<counter>) and BENCH_PASSWORD
--   BENCH_TAG       run tag, keeps names unique across runs on one database
--   BENCH_ROTATE    "FIRST:COUNT": every request logs in as another seeded user,
--                   user<FIRST> … user<FIRST+COUNT-1>, never the same one twice
--                   until all are used (threads take interleaved names)
local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY") or ""
local auth = os.getenv("BENCH_AUTH") or ""
local register = os.getenv("BENCH_REGISTER") == "1"
local tag = os.getenv("BENCH_TAG") or "x"
local password = os.getenv("BENCH_PASSWORD") or "Bench-pass-2024!"
local rotate = os.getenv("BENCH_ROTATE") or ""
local threads = tonumber(os.getenv("BENCH_THREADS") or "1")

wrk.method = method
if body ~= "" then
  wrk.body = body
end
if body ~= "" or register or (os.getenv("BENCH_ROTATE") or "") ~= "" then
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

if rotate ~= "" then
  local first, count = rotate:match("^(%d+):(%d+)$")
  first, count = tonumber(first), tonumber(count)
  local n = 0
  request = function()
    local k = ((n * threads) + (tid or 1) - 1) % count
    n = n + 1
    local b = string.format('{"username":"user%05d","password":"%s"}', first + k, password)
    return wrk.format("POST", nil, nil, b)
  end
end

-- wrk script for POST /v1/leads/{id}/transitions (driven by bench/load.py; usable on its own too).
--
-- Moves seeded leads back and forth: qualified -> negotiating (proposal_sent), then
-- negotiating -> qualified (scope_changed), pass after pass, so every request is a legal move.
--
-- Each wrk thread works only on its own slice of the ids and visits them in turn, so as long as a
-- slice holds more leads than the thread has connections, no two connections ever hit the same
-- lead at once (which would measure row-lock waits and 409s instead of transitions).
--
-- The target is kept per lead, and it is taken from the lead the service sends back, not flipped
-- when a request is built: wrk calls request() once before the run only to check that it parses,
-- and never sends that request, so anything decided there (a flipped target, a pass flag) would
-- no longer match the database and the next real request for that lead would be a 409. (A lead
-- whose request fails keeps its target; if that failure had in fact committed, the lead would
-- answer 409 from then on, and wrk would count each one.)
--
-- Environment:
--   LEADSTATUS_BENCH_IDS      file with one lead id per line, every lead at `qualified`
--   LEADSTATUS_BENCH_THREADS  the -t given to wrk (the ids are split into that many slices)
--
--   LEADSTATUS_BENCH_IDS=ids.txt LEADSTATUS_BENCH_THREADS=2 \
--     wrk -t2 -c32 -d10s --latency -s bench/transition.lua http://127.0.0.1:8000

local next_thread = 0

-- Runs in wrk's main Lua state once per thread, before that thread's init(): numbers the threads.
function setup(thread)
  thread:set("thread_no", next_thread)
  next_thread = next_thread + 1
end

local headers = { ["Content-Type"] = "application/json" }
-- LEADSTATUS_BENCH_KEY: the API key every request carries (bench/load.py passes one).
local key = os.getenv("LEADSTATUS_BENCH_KEY")
if key ~= nil and key ~= "" then headers["Authorization"] = "Bearer " .. key end
local bodies = {
  negotiating = '{"to":"negotiating","reason":"proposal_sent"}',
  qualified = '{"to":"qualified","reason":"scope_changed"}',
}
local next_target = { qualified = "negotiating", negotiating = "qualified" }

local function read_ids(path)
  local ids = {}
  local file = io.open(path, "r")
  if file == nil then
    error("transition.lua: cannot read LEADSTATUS_BENCH_IDS=" .. tostring(path))
  end
  for line in file:lines() do
    local id = line:match("^%s*(%d+)%s*$")
    if id then
      ids[#ids + 1] = id
    end
  end
  file:close()
  return ids
end

function init(args)
  local all = read_ids(os.getenv("LEADSTATUS_BENCH_IDS"))
  local threads = tonumber(os.getenv("LEADSTATUS_BENCH_THREADS") or "")
  if threads == nil or threads < 1 then
    error("transition.lua: set LEADSTATUS_BENCH_THREADS to wrk's -t")
  end
  -- A contiguous block of the ids for this thread: thread k of n takes (k*N/n, (k+1)*N/n].
  local first = math.floor(thread_no * #all / threads) + 1
  local last = math.floor((thread_no + 1) * #all / threads)
  ids = {}
  target = {}
  for i = first, last do
    ids[#ids + 1] = all[i]
    target[all[i]] = "negotiating"
  end
  if #ids == 0 then
    error("transition.lua: thread " .. thread_no .. " has no leads; seed more than -t leads")
  end
  pos = 0
end

-- Only reads the per-lead target, so the unsent call wrk makes before the run changes nothing but
-- where the cycle starts.
function request()
  pos = pos % #ids + 1
  local id = ids[pos]
  return wrk.format("POST", "/v1/leads/" .. id .. "/transitions", headers, bodies[target[id]])
end

-- The answer is the lead itself: its status says which move it takes next. A refused move leaves
-- the target as it was, and wrk counts the refusal among the non-2xx responses.
function response(status, headers, body)
  if status == 200 then
    local id = body:match('"id":(%d+)')
    local now = body:match('"status":"(%a+)"')
    if id and target[id] and next_target[now] then
      target[id] = next_target[now]
    end
  end
end

-- wrk script for POST /v1/leads (driven by bench/load.py; usable on its own too).
--
-- Every request creates a new lead. Emails must be unique among open leads, so each one is built
-- from the run tag, the wrk thread and a per-thread counter: no two requests of a run, nor of two
-- runs against the same database, collide (a collision would be a 409 and measure the error path).
--
-- Environment:
--   LEADSTATUS_BENCH_RUN  a tag unique to this run (default: the clock and a random number)
--
--   LEADSTATUS_BENCH_RUN=r1 wrk -t2 -c32 -d10s --latency -s bench/create.lua http://127.0.0.1:8000

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
local owners = { "alex.romero", "dana.whitfield", "sam.okafor", "lee.chen" }
local sources = { "web", "webinar", "referral", "event" }

function init(args)
  math.randomseed(os.time())
  run = os.getenv("LEADSTATUS_BENCH_RUN")
  if run == nil or run == "" then
    run = string.format("%d%05d", os.time(), math.random(0, 99999))
  end
  counter = 0
end

-- wrk also calls request() once before the run to check the request parses; that only skips one
-- counter value, which is harmless here.
function request()
  counter = counter + 1
  local body = string.format(
    '{"email":"bench.%s.%d.%d@load.example","first_name":"Pat","last_name":"Lee%d",'
      .. '"company":"Acme %d","source":"%s","owner":"%s"}',
    run, thread_no, counter, counter, counter % 97,
    sources[counter % #sources + 1], owners[counter % #owners + 1])
  return wrk.format("POST", "/v1/leads", headers, body)
end

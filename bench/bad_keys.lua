-- wrk script for bench/bad_keys.py: GET /v1/leads with a made-up API key, a new one per request
-- (a flood of guessed or stale keys, none of which the service can have remembered).
local counter = 0

function setup(thread)
  thread:set("salt", tostring(math.random(1, 1000000000)))
end

function request()
  counter = counter + 1
  return wrk.format("GET", "/v1/leads", {["Authorization"] = "Bearer lsk_made_up_" .. salt .. "_" .. counter})
end

-- wrk: GET the command line's URL; every answer is compared with TALLYHOUSE_EXPECTED (the
-- body checked against the oracle first), and the ones that differ are counted.
mismatches = 0
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  expected = os.getenv("TALLYHOUSE_EXPECTED")
  headers = {["Authorization"] = "Bearer " .. os.getenv("TALLYHOUSE_KEY")}
end
function request()
  return wrk.format("GET", nil, headers)
end
function response(status, headers, body)
  if body ~= expected then
    mismatches = mismatches + 1
  end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("mismatches")
  end
  io.write(string.format("Mismatched answers: %d\n", total))
end

-- wrk: 1,000 usage events per request, every idempotency key new (thread id + counter)
local counter = 0
local next_thread = 0
function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
end
function request()
  counter = counter + 1
  local events = {}
  for i = 1, 1000 do
    events[i] = string.format(
      '{"eventType":"llm_call","metricName":"tokens","quantity":%d,"idempotencyKey":"b-%d-%d-%d",' ..
      '"timestamp":"2026-11-24T11:00:00Z","userId":"user_%d","metadata":{"model":"gpt-4o-mini",' ..
      '"provider":"openai","inputTokens":800,"outputTokens":200}}', 1000 + i % 500, tid, counter, i, i % 97)
  end
  return wrk.format("POST", "/v1/usage/events/batch",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("TALLYHOUSE_KEY")},
    '{"events":[' .. table.concat(events, ",") .. ']}')
end

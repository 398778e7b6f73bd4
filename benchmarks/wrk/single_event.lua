-- wrk: one usage event per request, every idempotency key new (thread id + counter)
local counter = 0
local next_thread = 0
function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
end
function request()
  counter = counter + 1
  local body = string.format(
    '{"eventType":"llm_call","metricName":"tokens","quantity":1500,"idempotencyKey":"s-%d-%d",' ..
    '"timestamp":"2026-11-24T11:00:00Z","userId":"user_%d","metadata":{"model":"gpt-4o-mini",' ..
    '"provider":"openai","inputTokens":1000,"outputTokens":500}}', tid, counter, counter % 97)
  return wrk.format("POST", "/v1/usage/events",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("TALLYHOUSE_KEY")}, body)
end

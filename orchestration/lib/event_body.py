"""The usage event body: the fields an app sends, in the order the API documents them."""

BODY_FIELDS = (
    "eventType",
    "metricName",
    "quantity",
    "idempotencyKey",
    "timestamp",
    "userId",
    "costUsd",
    "value",
    "metadata",
)

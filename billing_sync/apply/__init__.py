"""Apply layer: executes a Plan with idempotency keys, concurrency, rate limits and retries."""

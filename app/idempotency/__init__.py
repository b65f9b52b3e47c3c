"""Safe retries of POSTs that carry an `Idempotency-Key`."""

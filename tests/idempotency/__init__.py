"""The idempotency feature: Idempotency-Key answers kept and replayed over HTTP."""

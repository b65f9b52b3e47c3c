"""Receiving leads from marketing tools: each tool's signature scheme and payload shape (pure
functions over bytes and headers, tested against each tool's own reference sender), the
sources and their sealed secrets, the deliveries kept for retries, and the intake route."""

"""The intake feature: payloads and signatures, the `leadstatus source` command, deliveries."""

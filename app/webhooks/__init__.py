"""Webhooks: the events log sent to other apps' endpoints, signed, at least once."""

"""The events log: what changed, in the order other apps may rely on."""

"""The events log published to NATS JetStream, for deployments that run a message bus."""

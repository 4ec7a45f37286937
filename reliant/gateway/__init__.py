"""The gateway role: holds daemons' gRPC streams and bridges them to NATS."""

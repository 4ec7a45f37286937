"""How roles reach the shared parts of reliant: daemons over the bus, Temporal, the LLM providers
configured in settings, and the chat update log (Postgres, then NATS)."""

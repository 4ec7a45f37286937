"""MCP servers run by the daemon: layered configuration, lifecycles, and their tools for the model."""

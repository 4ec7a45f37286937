"""The worker role: Temporal workflows and the activities that do their I/O."""

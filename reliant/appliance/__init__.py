"""The all-in-one appliance: the data dir (lock, ports, secrets) and the supervisor behind
`reliant up`, `reliant services` and the split roles."""

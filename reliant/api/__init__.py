"""The api role: REST, ConnectRPC and the web UI, behind one token."""

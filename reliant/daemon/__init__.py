"""The daemon role: runs tools on the user's machine; reached only through the gateway."""

"""LLM providers: the only package that imports the provider SDKs."""

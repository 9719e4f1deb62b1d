"""Voxtral through vLLM: configuration, model manager, server manager, client and features.

Importing this package (or its config) pulls in nothing heavy; the `openai` client is
imported inside `agent.voxtral.client` when a request is first made.
"""

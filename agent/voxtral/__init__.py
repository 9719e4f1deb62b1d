"""Voxtral through vLLM: model manager, server manager, client and features (its
configuration is agent/asr/config.py).

Importing this package pulls in nothing heavy; the `openai` client is
imported inside `agent.voxtral.client` when a request is first made.
"""

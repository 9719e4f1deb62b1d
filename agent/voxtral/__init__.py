"""The Voxtral server's side: the vLLM process (launch, server, serverctl), the model's
weights (models) and the CLI commands. The recognisers that talk to it are in agent/asr
(voxtral, voxtral_realtime); its configuration is agent/asr/config.py.
"""

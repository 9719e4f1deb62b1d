"""voxagent: local-first, real-time desktop voice control."""

__version__ = "0.1.0"

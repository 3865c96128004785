"""champion: a self-hosted model deployment server."""

__version__ = "0.1.0"

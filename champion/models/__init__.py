"""The model registry: registered models and their immutable, numbered versions."""

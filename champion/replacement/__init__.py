"""Replacing a deployment's champion: validation, the swap, the record."""

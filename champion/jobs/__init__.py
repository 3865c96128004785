"""Batch scoring jobs on batch deployments, and the data assets they read."""

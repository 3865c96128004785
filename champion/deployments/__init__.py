"""Deployments: a model version served online or scored in batches, and its lifecycle."""

"""Spaces group models and deployments; members hold a role in each."""

"""Challengers: other model versions a deployment keeps beside its champion and compares on its traffic."""

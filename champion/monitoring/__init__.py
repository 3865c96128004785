"""Monitoring a deployment: what it was asked and answered, and what that says about its model."""

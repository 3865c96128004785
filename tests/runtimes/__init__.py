"""Tests of the framework adapters and the dispatcher."""

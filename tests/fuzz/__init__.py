"""Fuzzing the HTTP faces with schemathesis, and property tests of JSON Patch documents with Hypothesis."""

"""The server processes sharing a database, and what each one serves."""

"""The faces: each parses its vendor's wire format, calls the services and renders the answer."""

"""A second package claiming the echo domain."""

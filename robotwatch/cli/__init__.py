"""The `robotwatch` command line."""

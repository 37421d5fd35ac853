"""The bots this deployment serves: their registry, credentials and services."""

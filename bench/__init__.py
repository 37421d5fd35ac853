"""Load benchmark of the webhook service (not tests). Run: python bench/run.py (see README)."""

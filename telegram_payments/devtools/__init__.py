"""Development helpers: a Bot API stand-in on loopback (tests and `manage.py dev_bot_api`)."""

"""Date formats for every page (Django's FORMAT_MODULE_PATH): one datetime format with its time zone."""

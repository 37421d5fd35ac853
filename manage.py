#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "payments_project.settings")
    # The development settings scripts/run.sh wrote, if any (variables set in the shell win; ENV_FILE=""
    # reads none). The server itself (wsgi.py) never reads this file.
    os.environ.setdefault("ENV_FILE", os.path.join(os.path.dirname(os.path.abspath(__file__)), ".env.dev"))
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()

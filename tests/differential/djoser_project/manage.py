#!/usr/bin/env python3
"""Command-line entry point of the reference Djoser project (see ../README.md)."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djoser_project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)

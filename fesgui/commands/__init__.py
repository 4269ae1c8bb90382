"""Subcommands of the ``fesgui`` command line, one module each."""

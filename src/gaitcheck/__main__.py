"""``python -m gaitcheck`` runs the command-line interface."""

from gaitcheck.cli import main

main()

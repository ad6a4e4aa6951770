"""Command-line interface. Thin: parse arguments, call one function, print the result.

Heavy modules are imported inside the commands so that ``gaitcheck --help`` stays fast.
Every :class:`gaitcheck.errors.GaitcheckError` becomes a one-line message on stderr and
its exit code; nothing else is caught.
"""

from __future__ import annotations

import sys

import typer

from gaitcheck import __version__
from gaitcheck.errors import GaitcheckError

app = typer.Typer(
    name="gaitcheck",
    help="Running-gait analysis from a phone video.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"gaitcheck {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Running-gait analysis from a phone video."""


# Commands are added below, one block per command. Keep each block thin.


def main() -> None:
    """Console-script entry point: run the app, turning user errors into messages."""
    try:
        app()
    except GaitcheckError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()

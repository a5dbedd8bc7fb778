"""Printing for people (Rich) and for scripts (`--format json`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum
from typing import Any, NoReturn

from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


def set_quiet(quiet: bool) -> None:
    """With `--quiet`, text for people is not printed (errors on stderr and JSON for scripts still are)."""
    console.quiet = quiet


class OutputFormat(StrEnum):
    """How read commands print."""

    text = "text"
    json = "json"


def emit(data: Any, fmt: OutputFormat, render_text: Callable[[Any], None]) -> None:
    """Print `data` as JSON for scripts, or hand it to `render_text` for people."""
    if fmt == OutputFormat.json:
        # the one JSON document a command prints on stdout: everything else goes to stderr
        sys.stdout.write(json.dumps(data, default=str, indent=2, ensure_ascii=False) + "\n")
    else:
        render_text(data)


def say(message: str) -> None:
    """Print one line for people as it is: no markup, no highlighting."""
    console.print(message, highlight=False, markup=False)


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    """A Rich table whose cells are shown as plain text (never interpreted as markup)."""
    result = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        result.add_column(column, overflow="fold")
    for row in rows:
        result.add_row(*["" if value is None else _plain(value) for value in row])
    return result


def _plain(value: Any) -> Any:
    from rich.text import Text

    return Text(str(value))


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error for people on stderr and exit with `code`."""
    import typer

    err_console.print(f"[bold red]error:[/] {_escape(message)}")
    raise typer.Exit(code)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)

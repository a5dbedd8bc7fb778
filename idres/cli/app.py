"""`idres`: the one command that drives ingest, matching, review and compliance.

The root Typer app; every command group lives in its own module of this package and is registered
here, explicitly and in the order `idres --help` lists them (the modules never import this one).
"""

from __future__ import annotations

import typer

from idres.cli import (
    anonymize,
    config,
    customer,
    customers,
    demo,
    export,
    ingest,
    match,
    merges,
    prefect_server,
    quarantine,
    report,
    requests,
    serve,
    status,
    suggestions,
    users,
    web,
)
from idres.cli.common import (
    ConfigOption,
    IdresGroup,
    QuietOption,
    StoreOption,
    sigterm_as_ctrl_c,
    start_invocation,
)

app = typer.Typer(
    name="idres",
    help="Identity resolution for contact centres: ingest channel identities, match them into customers, "
    "review merges, and carry out export and erasure requests.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    cls=IdresGroup,  # adds -q/--quiet to every sub-command
)


@app.callback()
def _global_options(
    ctx: typer.Context, store: StoreOption = None, quiet: QuietOption = False, config: ConfigOption = None
) -> None:
    """Options for every command: `idres --config FILE --store PATH -q COMMAND` (a command's own --store wins)."""
    start_invocation(ctx, store, quiet, config)


for command in (
    ingest.ingest,
    status.status,
    demo.sample,
    demo.demo,
    match.match,
    match.evaluate,
    serve.serve,
    report.report,
    web.web,
):
    app.command()(command)

for name, group in (
    ("customer", customer.group),
    ("quarantine", quarantine.group),
    ("export", export.group),
    ("anonymize", anonymize.group),
    ("requests", requests.group),
    ("config", config.group),
    ("suggestions", suggestions.group),
    ("customers", customers.group),
    ("merges", merges.group),
    ("prefect-server", prefect_server.group),
    ("users", users.group),
):
    app.add_typer(group, name=name)


def main() -> None:
    """Run `idres` in this process (errors are rendered by the root group, `IdresGroup.invoke`)."""
    sigterm_as_ctrl_c()
    app()

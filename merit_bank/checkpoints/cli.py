"""`checkpoint` (cron: sign each village's chain head that moved) and `witness pull URL`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from . import services, witness


@click.command("checkpoint")
@click.option("--no-verify", is_flag=True, help="Skip recomputing each chain before signing its head.")
@with_appcontext
def checkpoint_command(no_verify: bool) -> None:
    """Sign a checkpoint of every village whose chain head moved since its last one (idempotent)."""
    result = services.checkpoint_all(verify_first=not no_verify)
    for checkpoint in result["made"]:
        click.echo(
            f"Checkpoint {checkpoint.village_code} seq {checkpoint.seq} {checkpoint.hash} at {checkpoint.at}"
        )
    click.echo(f"{len(result['made'])} new, {len(result['unchanged'])} unchanged.")
    if result["refused"]:
        for code, reason in result["refused"]:
            click.echo(f"REFUSED to sign village {code}: {reason}", err=True)
        sys.exit(1)


@click.group("witness")
def witness_group() -> None:
    """Keep an outside record of a deployment's signed checkpoints."""


@witness_group.command("pull")
@click.argument("url")
@click.option(
    "--store",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The witness's JSON file (default: instance/witness.json).",
)
@with_appcontext
def witness_pull_command(url: str, store: Path | None) -> None:
    """Fetch URL's public checkpoints, check every signature and remember them; exit 1 on equivocation."""
    path = store or Path(current_app.instance_path) / "witness.json"
    try:
        report = witness.pull(url, path)
    except witness.WitnessError as exc:
        click.echo(f"Witness FAILED: {exc}", err=True)
        sys.exit(2)
    if report.problems:
        click.echo(f"Witness REFUSES {report.url}: the store {path} is left as it was.", err=True)
        for problem in report.problems:
            click.echo(f"  {problem}", err=True)
        evidence = witness.save_evidence(path, report)
        if evidence is not None:
            click.echo(f"  Both signed versions are kept as evidence in {evidence}", err=True)
        sys.exit(1)
    click.echo(
        f"Witnessed {report.url}: {report.villages} villages, {report.seen} checkpoints, {report.new} new; "
        f"all signatures good. Store: {path}"
    )


commands = [checkpoint_command, witness_group]

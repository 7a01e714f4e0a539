"""Command-line tools of the ledger: verify it, export a village's chain."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from ..inputs import ID
from . import services


@click.command("verify-ledger")
@click.option("--village", "village_id", type=ID, default=None, help="Only this village's chain.")
@click.option(
    "--checkpoints",
    "checkpoints_source",
    default=None,
    metavar="FILE|URL",
    help="Also require the chain to pass through these remembered checkpoints (a witness store, a "
    "checkpoints JSON file, or a deployment's base URL).",
)
@with_appcontext
def verify_ledger_command(village_id: int | None, checkpoints_source: str | None) -> None:
    """Recompute every hash chain, entry sum and cached balance; exit 0 when whole, 1 when not.

    A chain rewritten consistently (every hash recomputed) still verifies on its own; only a head
    remembered outside the database shows it, hence --checkpoints (see docs/ledger.md).
    """
    village_ids = [village_id] if village_id is not None else None
    total = services.count_transactions(village_ids)
    with click.progressbar(length=total, label="Verifying", file=sys.stderr) as bar:
        result = services.verify(progress=bar.update, village_ids=village_ids)
    if result["ok"]:
        heads = ", ".join(f"village {h['village_id']} seq {h['seq']} {h['hash']}" for h in result["head"])
        click.echo(f"Ledger OK: {result['transactions']} transactions. Heads: {heads or 'none'}")
        if checkpoints_source is not None:
            _check_remembered(checkpoints_source, village_id)
        _check_summary(village_ids)
        return
    where = f"transaction {result['first_bad_id']}" if result["first_bad_id"] else "ledger"
    click.echo(f"Ledger BROKEN at {where} (village {result.get('village_id')}): {result['reason']}", err=True)
    sys.exit(1)


def _check_remembered(source: str, village_id: int | None) -> None:
    """Exit 1 naming the first remembered checkpoint that today's chain no longer passes through.

    Only chains that were just recomputed are compared (with --village, that village's), since the
    comparison reads the stored hashes that verification has shown to be the recomputed ones.
    """
    # Composed here rather than in the ledger's services, which import no other domain.
    from ..checkpoints import services as checkpoints
    from ..checkpoints import witness

    try:
        items, problems = witness.load_remembered(source, checkpoints.public_key())
    except witness.WitnessError as exc:
        click.echo(f"Checkpoints UNREADABLE: {exc}", err=True)
        sys.exit(2)
    if problems:
        for problem in problems:
            click.echo(f"Checkpoints REFUSED: {problem}", err=True)
        sys.exit(1)
    if village_id is not None:
        code = checkpoints.village_code(village_id)
        items = [item for item in items if item.get("village_code") == code]
    outcome = checkpoints.check_remembered(items)
    if not outcome["ok"]:
        click.echo(
            f"Ledger REWRITTEN: it no longer passes through checkpoint village {outcome['village_code']} "
            f"seq {outcome['seq']} (signed {outcome['at']}): remembered hash {outcome['remembered']}, "
            f"{outcome['reason']}",
            err=True,
        )
        sys.exit(1)
    click.echo(f"Checkpoints OK: the chain passes through all {outcome['checked']} remembered checkpoints.")


def _check_summary(village_ids: list[int] | None) -> None:
    """Exit 1 naming every row of the reports' points summary that the ledger does not give."""
    # Composed here, like the checkpoints: the summary is the reports' table, read from the ledger.
    from ..reports import summary

    outcome = summary.verify(village_ids)
    if not outcome["ok"]:
        for problem in outcome["problems"]:
            click.echo(f"Summary MISMATCH: {problem}", err=True)
        sys.exit(1)
    click.echo(f"Summary OK: {outcome['villages']} villages agree with the ledger.")


@click.command("export-ledger")
@click.argument("village_id", type=ID)
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="jsonl", show_default=True)
@click.option(
    "--output", "-o", type=click.File("w", encoding="utf-8"), default="-", help="File (default: stdout)."
)
@with_appcontext
def export_ledger_command(village_id: int, fmt: str, output) -> None:
    """Write a village's ledger with everything needed to recompute its hash chain."""
    count = services.export_ledger(village_id, fmt, output)
    click.echo(f"Exported {count} transactions of village {village_id}.", err=True)


commands = [verify_ledger_command, export_ledger_command]

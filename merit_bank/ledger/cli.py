"""Command-line tools of the ledger: verify it, export a village's chain."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from ..inputs import ID
from . import services


@click.command("verify-ledger")
@click.option("--village", "village_id", type=ID, default=None, help="Only this village's chain.")
@with_appcontext
def verify_ledger_command(village_id: int | None) -> None:
    """Recompute every hash chain, entry sum and cached balance; exit 0 when whole, 1 when not."""
    village_ids = [village_id] if village_id is not None else None
    total = services.count_transactions(village_ids)
    with click.progressbar(length=total, label="Verifying", file=sys.stderr) as bar:
        result = services.verify(progress=bar.update, village_ids=village_ids)
    if result["ok"]:
        heads = ", ".join(f"village {h['village_id']} seq {h['seq']} {h['hash']}" for h in result["head"])
        click.echo(f"Ledger OK: {result['transactions']} transactions. Heads: {heads or 'none'}")
        return
    where = f"transaction {result['first_bad_id']}" if result["first_bad_id"] else "ledger"
    click.echo(f"Ledger BROKEN at {where} (village {result.get('village_id')}): {result['reason']}", err=True)
    sys.exit(1)


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

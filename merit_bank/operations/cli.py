"""Command-line tools for operating a deployment: `backup DEST` and `restore SRC`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from alembic.script import ScriptDirectory
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from . import backup as backups


@click.command("backup")
@click.argument("dest", type=click.Path(path_type=Path))
@click.option(
    "--keep",
    type=click.IntRange(1),
    default=None,
    help="With DEST a directory: afterwards delete all but the newest KEEP timestamped backups in it.",
)
@with_appcontext
def backup_command(dest: Path, keep: int | None) -> None:
    """Back the database up to DEST, a file or a directory (then a timestamped file is made in it).

    Safe while the service runs: SQLite is copied with its online backup API, PostgreSQL dumped with
    pg_dump in custom format. The file appears under its final name only once it is complete.
    """
    if keep is not None and not dest.is_dir():
        click.echo("backup failed: --keep needs DEST to be a directory", err=True)
        sys.exit(2)
    try:
        path = backups.backup(dest)
    except backups.BackupError as exc:
        click.echo(f"backup failed: {exc}", err=True)
        sys.exit(1)
    click.echo(f"Backup written: {path} ({path.stat().st_size} bytes)")
    if keep is not None:
        for old in backups.prune(dest, keep, path.suffix):
            click.echo(f"Deleted old backup {old}")


@click.command("restore")
@click.argument("src", type=click.Path(path_type=Path))
@with_appcontext
def restore_command(src: Path) -> None:
    """Restore the backup SRC into the configured database, which must be empty; then verify it.

    Exit 0 only when the restore worked and both verify-ledger and verify-stock pass on the result.
    """
    try:
        backups.restore(src)
        _upgrade_if_older()
    except backups.BackupError as exc:
        click.echo(f"restore failed: {exc}", err=True)
        sys.exit(1)
    click.echo(f"Restored {src}. Verifying…")
    if not _verify():
        click.echo("restore failed: the restored database does not verify (see above)", err=True)
        sys.exit(1)
    click.echo("Restore complete: ledger and stock verified.")


def _upgrade_if_older() -> None:
    """Bring a backup made by an older release up to this code's schema; refuse one from a newer release."""
    from flask_migrate import upgrade

    config = current_app.extensions["migrate"].migrate.get_config()
    script = ScriptDirectory.from_config(config)
    try:
        with db.engine.connect() as conn:
            revisions = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except SQLAlchemyError as exc:
        raise backups.BackupError(
            "the restored database has no schema revision (alembic_version): not a Merit Bank backup"
        ) from exc
    finally:
        db.engine.dispose()
    heads = set(script.get_heads())
    if revisions == heads:
        return
    known = {rev.revision for rev in script.walk_revisions()}
    if not revisions <= known:
        raise backups.BackupError(
            f"the backup is at schema revision {', '.join(sorted(revisions))}, which this release does not "
            "know (made by a newer release?); restore it with that release"
        )
    click.echo(
        f"The backup is at schema revision {', '.join(sorted(revisions))}; upgrading it to this release."
    )
    upgrade()
    db.engine.dispose()


def _verify() -> bool:
    from ..ledger import services as ledger
    from ..shop import services as shop

    ledger_result = ledger.verify()
    if ledger_result["ok"]:
        click.echo(f"Ledger OK: {ledger_result['transactions']} transactions.")
    else:
        where = ledger_result.get("first_bad_id") or "ledger"
        click.echo(f"Ledger BROKEN at transaction {where}: {ledger_result['reason']}", err=True)
    stock_result = shop.verify_stock()
    if stock_result["ok"]:
        click.echo(f"Stock OK: {stock_result['items']} items, {stock_result['movements']} movements.")
    else:
        click.echo(
            f"Stock BROKEN at item {stock_result['item_id']} (movement {stock_result['movement_id']}): "
            f"{stock_result['reason']}",
            err=True,
        )
    db.session.remove()
    return bool(ledger_result["ok"] and stock_result["ok"])


commands = [backup_command, restore_command]

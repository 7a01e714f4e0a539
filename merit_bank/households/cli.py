"""Command-line tools of households: rotating the keys that protect identity numbers."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from . import identity, services


@click.command("rotate-keys")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=500, show_default=True)
@with_appcontext
def rotate_keys_command(batch_size: int) -> None:
    """Re-encrypt every stored identity number under the newest identity key; exit 1 if any cannot be read.

    Safe to run again (numbers already under the newest key are left alone) and while the service runs.
    After it succeeds, older keys can be removed from IDENTITY_KEYS / IDENTITY_KEYS_FILE.
    """
    try:
        counts = services.rotate_identity_keys(batch_size=batch_size)
    except identity.IdentityKeyError as exc:
        click.echo(f"rotate-keys: {exc}", err=True)
        sys.exit(1)
    click.echo(
        f"Identity numbers under key {counts['key_id']}: {counts['rotated']} re-encrypted, "
        f"{counts['already_current']} already current."
    )
    if counts["unreadable"]:
        for key_id, count in sorted(counts["unreadable"].items()):
            click.echo(
                f"rotate-keys: {count} identity numbers are under key id {key_id}, which is not configured "
                f"or does not decrypt them; add key {key_id} to IDENTITY_KEYS and run rotate-keys again.",
                err=True,
            )
        sys.exit(1)


commands = [rotate_keys_command]

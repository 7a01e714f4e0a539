"""`expire-points` (cron, daily): run every announced expiry whose day has come."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from ..errors import DomainError
from . import services


@click.command("expire-points")
@click.option("--village", "village_id", type=int, default=None, help="Only this village (its id).")
@with_appcontext
def expire_points_command(village_id: int | None) -> None:
    """Post the expiry of every announced date that has come (idempotent; exit 1 if one is refused)."""
    refused = False
    due = services.due(village_id)
    for announcement in due:
        try:
            result = services.run(announcement, None)
        except DomainError as exc:
            refused = True
            click.echo(
                f"REFUSED expiry of village {announcement.village_id} on {announcement.expires_on}: "
                f"{exc.code}",
                err=True,
            )
            continue
        click.echo(
            f"Expired village {result['village_id']} on {result['expires_on']}: "
            f"{result['points']} points from {result['households']} households."
        )
    click.echo(f"{len(due)} expiry date(s) due.")
    if refused:
        sys.exit(1)


commands = [expire_points_command]

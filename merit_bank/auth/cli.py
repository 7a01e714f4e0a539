"""Command-line tools for logins."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..errors import DomainError
from ..inputs import PLAIN_TEXT
from . import services


@click.command("create-admin")
@click.argument("username", type=PLAIN_TEXT)
@click.option(
    "--password", prompt=True, hide_input=True, confirmation_prompt=True, help="At least 8 characters."
)
@with_appcontext
def create_admin_command(username: str, password: str) -> None:
    """Create a deployment-wide administrator."""
    try:
        services.create_admin(username, password)
    except DomainError as exc:
        raise click.ClickException(exc.detail or exc.code) from exc
    click.echo(f"Created admin {username}.")


@click.command("reset-password")
@click.argument("username", type=PLAIN_TEXT)
@click.option(
    "--password", prompt=True, hide_input=True, confirmation_prompt=True, help="The new password or PIN."
)
@with_appcontext
def reset_password_command(username: str, password: str) -> None:
    """Set a new password or PIN for a login locked out or forgotten; ends all its sessions."""
    try:
        services.reset_password(username, password)
    except DomainError as exc:
        raise click.ClickException(str(exc.errors or exc.detail or exc.code)) from exc
    click.echo(f"New password set for {username}; every earlier session of it has ended.")


@click.command("purge-tokens")
@with_appcontext
def purge_tokens_command() -> None:
    """Forget expired revocations and old failed logins (safe from cron)."""
    click.echo(f"Purged {services.purge_expired()} rows.")


commands = [create_admin_command, reset_password_command, purge_tokens_command]

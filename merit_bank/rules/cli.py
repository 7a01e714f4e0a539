"""Command line of rules: load the default rulebook into a village."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from .. import demo as demo_module
from ..auth import policy as auth_policy
from ..auth.models import User
from ..extensions import db
from ..inputs import PLAIN_TEXT
from ..villages.models import Village
from . import services


@click.command("load-rulebook")
@click.argument("village_code", type=PLAIN_TEXT)
@click.option(
    "--admin", "admin_username", type=PLAIN_TEXT, required=True, help="Username of the admin who adopts it."
)
@with_appcontext
def load_rulebook_command(village_code: str, admin_username: str) -> None:
    """Copy the default rulebook (about 20 rules over the six councils) into a village."""
    village = db.session.scalar(select(Village).where(Village.code == village_code.strip().upper()))
    if village is None:
        raise click.ClickException(f"No village with code {village_code}.")
    admin = db.session.scalar(select(User).where(User.username == admin_username, auth_policy.admins()))
    if admin is None:
        raise click.ClickException(f"No admin named {admin_username}.")
    created = services.import_rulebook(admin, village.id)
    click.echo(f"Added {len(created)} rule(s) to {village.name} ({village.code}).")


def seed_demo_rulebook(demo: demo_module.Demo) -> None:
    """The demo village adopts the default rulebook, and asks two reviewers for drug tips.

    A reward for a tip is never on the notice board (that would name the informant), so the village asks
    two people to agree instead: the demo's example of a rule whose claims post at the second approval.
    """
    created = {r.code: r for r in services.import_rulebook(demo.admin, demo.village.id)}
    services.update_rule(demo.admin, created["ADG-DRUG"].id, {"approvals_required": 2})


commands = [load_rulebook_command]

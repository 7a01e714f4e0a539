"""Bounds on failed logins, shared by every process through the database.

Three bounds, so that guessing is slow without anyone being able to lock the owner out:

- per client address and username, in a short window (the owner's own typos, one guesser at one account);
- per client address across all usernames, per minute (credential stuffing from one machine);
- per username across all addresses, per day (a distributed guesser); past it the owner still gets in with a
  second proof (the code printed on the household card) or after an admin's reset, which clears the count.

An attempt is recorded *before* the password is hashed and forgotten again if it succeeds, so concurrent
guesses cannot all slip under a bound while their hashes run; the hash itself runs outside any write
transaction, so a flood of logins never holds SQLite's write lock (nor a PostgreSQL lock) while it hashes.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, text

from ..database import is_sqlite, utcnow
from ..errors import DomainError
from ..extensions import db
from .models import LoginFailure

DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Reservation:
    """An attempt counted in advance; `needs_second_proof` when the account's daily bound is reached."""

    attempt_id: int
    needs_second_proof: bool


def client_address() -> str:
    """The caller's address: the socket's, or X-Forwarded-For's as far as TRUSTED_PROXIES allows.

    ProxyFix (installed by create_app when TRUSTED_PROXIES > 0) has already rewritten remote_addr;
    without it a forged X-Forwarded-For header changes nothing.
    """
    return (request.remote_addr or "unknown")[:45]


def _lock(username: str, address: str) -> None:
    """Serialize attempts at one username or from one address so that concurrent ones count one by one."""
    if is_sqlite():  # BEGIN IMMEDIATE already serializes every writer
        return
    keys = sorted({zlib.crc32(f"u:{username}".encode()), zlib.crc32(f"a:{address}".encode())})
    for key in keys:  # always in the same order, so two attempts never wait for each other in a cycle
        db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def _too_many(detail, retry_after: timedelta, **extra) -> DomainError:
    return DomainError(
        "too-many-attempts",
        detail,
        status=429,
        retry_after=max(1, math.ceil(retry_after.total_seconds())),
        **extra,
    )


def reserve(
    username: str, address: str, *, with_second_proof: bool, second_proof_allowed: bool = True
) -> Reservation:
    """Refuse with 429 when a bound is reached, else count this attempt; call inside a write transaction.

    Activation already is a proof, so past its day's bound there is no second one: `second_proof_allowed`
    False makes that bound hard (a clerk's activation code then waits for the next day too).
    """
    config = current_app.config
    _lock(username, address)
    now = utcnow()
    window = timedelta(seconds=config["LOGIN_WINDOW_SECONDS"])
    from_here = LoginFailure.address == address
    by_address = from_here & (LoginFailure.at > now - MINUTE)
    by_pair = from_here & (LoginFailure.username == username) & (LoginFailure.at > now - window)
    by_account = (LoginFailure.username == username) & (LoginFailure.at > now - DAY)
    address_count, pair_count, account_count = db.session.execute(
        select(
            func.count().filter(by_address),
            func.count().filter(by_pair),
            func.count().filter(by_account),
        ).where(
            (from_here & (LoginFailure.at > now - max(window, MINUTE)))
            | ((LoginFailure.username == username) & (LoginFailure.at > now - DAY))
        )
    ).one()
    if address_count >= config["LOGIN_ADDRESS_MAX_PER_MINUTE"]:
        raise _too_many(
            _l("Too many failed logins from this network; wait a minute and try again."),
            _oldest_age_out(by_address, MINUTE, now),
        )
    if pair_count >= config["LOGIN_MAX_FAILURES"]:
        raise _too_many(
            _l("Too many failed logins for this user; try again in 15 minutes."),
            _oldest_age_out(by_pair, window, now),
        )
    needs_second_proof = account_count >= config["LOGIN_ACCOUNT_MAX_PER_DAY"]
    if needs_second_proof and not second_proof_allowed:
        raise _too_many(
            _l("Too many failed attempts for this phone number today; try again tomorrow."),
            _oldest_age_out(by_account, DAY, now),
        )
    if needs_second_proof and not with_second_proof:
        raise _too_many(
            _l(
                "This account has had too many failed logins today. Log in with the code printed on "
                "your household card as well, or ask the village admin to reset your PIN."
            ),
            _oldest_age_out(by_account, DAY, now),
            second_proof="card_code",
        )
    attempt = LoginFailure(username=username, address=address, at=now)
    db.session.add(attempt)
    db.session.flush()
    return Reservation(attempt_id=attempt.id, needs_second_proof=needs_second_proof)


def _oldest_age_out(condition, span: timedelta, now: datetime) -> timedelta:
    """How long until the oldest counted failure leaves its window (the Retry-After)."""
    oldest = db.session.scalar(select(func.min(LoginFailure.at)).where(condition))
    return span if oldest is None else oldest + span - now


def forget_after_success(username: str, address: str) -> None:
    """A login succeeded: its own reservation and this address's earlier typos no longer count.

    Failures from other addresses stay: they are somebody else's guesses at this account.
    """
    db.session.execute(
        delete(LoginFailure).where(LoginFailure.username == username, LoginFailure.address == address)
    )


def forget_account(username: str) -> None:
    """An admin reset the password or PIN: the account starts the day afresh."""
    db.session.execute(delete(LoginFailure).where(LoginFailure.username == username))


def purge_before(cutoff: datetime) -> int:
    return db.session.execute(delete(LoginFailure).where(LoginFailure.at < cutoff)).rowcount

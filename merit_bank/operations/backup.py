"""Backups of the whole database, and restoring one into an empty database.

SQLite is copied with its online backup API (in one step, so the copy is one consistent snapshot while the
service keeps writing; WAL lets writers go on meanwhile). PostgreSQL is dumped with `pg_dump -Fc`, which reads
one snapshot too. Either way the backup is written to a hidden temporary file beside the destination, checked,
synced and only then renamed into place, so a file with the final name is always a complete backup.

A restore goes only into an empty database (a missing or empty SQLite file; a PostgreSQL database without
tables), so it can never mix a backup with live data; PostgreSQL restores in one transaction, so a damaged
dump leaves the target empty rather than half filled.

`pg_dump`/`pg_restore` are looked up as follows: the directory in `PG_BIN_DIR` if that is set; otherwise the
one on PATH if its major version is at least the server's (a dump must be made by a pg_dump as new as the
server); otherwise the newest of Debian's `/usr/lib/postgresql/<major>/bin/` that is. The password, if the
database URL has one, goes to the child process in `PGPASSWORD`, never on its command line.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL

from ..extensions import db

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
DEBIAN_PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
# merit_bank-<UTC time>[-<n>].<kind>: what a backup into a directory is called.
BACKUP_NAME = re.compile(r"^merit_bank-(\d{8}T\d{6}Z)(?:-(\d+))?(\.sqlite3|\.dump)$")


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class PgTool:
    path: str
    major: int


# --- where things are --------------------------------------------------------------------------------------


def _url() -> URL:
    return db.engine.url


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BackupError(f"the SQLite database must be a plain file path, not {url.database!r}")
    return Path(url.database)


def _read_only(path: Path) -> str:
    # as_uri() percent-encodes, so a path with '?', '#' or spaces is still this file.
    return f"{path.resolve().as_uri()}?mode=ro"


def libpq_target(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URL without the password, and the environment that carries the password."""
    env = {}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    # URL.set(password=None) would keep the password (None means "unchanged" there): build it anew.
    plain = URL.create(
        "postgresql",
        username=url.username,
        host=url.host,
        port=url.port,
        database=url.database,
        query=url.query,
    )
    return plain.render_as_string(hide_password=False), env


def _timestamped(directory: Path, suffix: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    # Several in one second get -2, -3…, always above any of that second still present, so the names of a
    # directory sort in the order the backups were made (prune relies on it).
    taken = [
        int(match.group(2) or 1)
        for path in directory.iterdir()
        if (match := BACKUP_NAME.match(path.name)) and match.group(1) == stamp
    ]
    if not taken:
        return directory / f"merit_bank-{stamp}{suffix}"
    return directory / f"merit_bank-{stamp}-{max(taken) + 1}{suffix}"


def _destination(dest: Path, suffix: str) -> Path:
    if dest.is_dir():
        return _timestamped(dest, suffix)
    if not dest.parent.is_dir():
        raise BackupError(f"the directory {dest.parent} does not exist")
    return dest


def _temp_beside(final: Path) -> Path:
    # Hidden and with another suffix: neither a restore nor a "keep the newest N" glob takes it for a backup.
    return final.with_name(f".{final.name}.{os.getpid()}.partial")


def _sync_and_rename(temp: Path, final: Path) -> None:
    with open(temp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temp, final)
    try:
        fd = os.open(final.parent, os.O_RDONLY)
    except OSError:  # pragma: no cover - a directory that cannot be opened (Windows) is synced by the OS
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def prune(directory: Path, keep: int, suffix: str) -> list[Path]:
    """Delete all but the newest `keep` timestamped backups (of this kind) in `directory`; returns them."""
    found = []
    for path in directory.iterdir():
        match = BACKUP_NAME.match(path.name)
        if match and match.group(3) == suffix and path.is_file():
            found.append(((match.group(1), int(match.group(2) or 1)), path))
    found.sort(reverse=True)
    removed = [path for _, path in found[keep:]]
    for path in removed:
        path.unlink()
    return removed


# --- backup ------------------------------------------------------------------------------------------------


def backup(dest: Path) -> Path:
    """Write a complete backup to `dest` (a file, or a directory for a timestamped file); returns its path."""
    url = _url()
    if url.get_backend_name() == "sqlite":
        return _backup_sqlite(_sqlite_path(url), dest)
    if url.get_backend_name() == "postgresql":
        return _backup_postgresql(url, dest)
    raise BackupError(f"backups of {url.get_backend_name()} databases are not supported")


def _backup_sqlite(source: Path, dest: Path) -> Path:
    if not source.exists():
        raise BackupError(f"the database file {source} does not exist")
    final = _destination(dest, ".sqlite3")
    temp = _temp_beside(final)
    temp.unlink(missing_ok=True)
    try:
        src = sqlite3.connect(_read_only(source), uri=True, timeout=60)
        try:
            out = sqlite3.connect(temp)
            try:
                # pages=-1: the whole database in one step, i.e. from one read snapshot.
                src.backup(out, pages=-1)
                # A self-contained file: no -wal beside it is needed to read the backup.
                out.execute("PRAGMA journal_mode=DELETE")
                _check_sqlite(out, temp)
            finally:
                out.close()
        finally:
            src.close()
        _sync_and_rename(temp, final)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return final


def _backup_postgresql(url: URL, dest: Path) -> Path:
    pg_dump = find_pg_tool("pg_dump", _server_major())
    final = _destination(dest, ".dump")
    temp = _temp_beside(final)
    target, env = libpq_target(url)
    try:
        # Owners and grants stay in the archive; pg_restore leaves them out when restoring (see below).
        _run([pg_dump.path, "--format=custom", "--file", str(temp), target], env)
        pg_restore = find_pg_tool("pg_restore", pg_dump.major)
        _run([pg_restore.path, "--list", str(temp)], env)  # the archive's table of contents reads back
        _sync_and_rename(temp, final)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return final


def _check_sqlite(conn: sqlite3.Connection, path: Path) -> None:
    try:
        result = conn.execute("PRAGMA integrity_check").fetchall()
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a readable SQLite database: {exc}") from exc
    if result != [("ok",)]:
        problems = "; ".join(str(problem) for (problem,) in result[:5])
        raise BackupError(f"{path} fails SQLite's integrity check: {problems}")
    if "alembic_version" not in tables:
        raise BackupError(f"{path} is not a Merit Bank database (it has no alembic_version table)")


# --- restore -----------------------------------------------------------------------------------------------


def restore(src: Path) -> None:
    """Restore the backup `src` into the configured database, which must be empty."""
    if not src.is_file():
        raise BackupError(f"no backup file at {src}")
    with open(src, "rb") as handle:
        magic = handle.read(16)
    url = _url()
    backend = url.get_backend_name()
    db.session.remove()
    db.engine.dispose()  # no pooled connection may hold the old (empty) database open
    if backend == "sqlite":
        if not magic.startswith(SQLITE_MAGIC):
            raise BackupError(_wrong_format(src, magic, "an SQLite backup"))
        _restore_sqlite(src, _sqlite_path(url))
    elif backend == "postgresql":
        if not magic.startswith(PGDUMP_MAGIC):
            raise BackupError(_wrong_format(src, magic, "a pg_dump custom-format backup"))
        _restore_postgresql(src, url)
    else:
        raise BackupError(f"restoring into {backend} databases is not supported")
    db.engine.dispose()


def _wrong_format(src: Path, magic: bytes, wanted: str) -> str:
    if magic.startswith(SQLITE_MAGIC):
        found = "an SQLite backup"
    elif magic.startswith(PGDUMP_MAGIC):
        found = "a PostgreSQL backup"
    else:
        found = "not a backup made by `backup` (damaged, or another kind of file)"
    return f"{src} is {found}; this database needs {wanted}"


def _restore_sqlite(src: Path, target: Path) -> None:
    if target.exists() and target.stat().st_size > 0 and _sqlite_has_tables(target):
        raise BackupError(
            f"refusing to restore: the database file {target} already holds data; "
            "restore into a new, empty database (move that file away first, or point DATABASE_URL elsewhere)"
        )
    if not target.parent.is_dir():
        raise BackupError(f"the directory {target.parent} does not exist")
    temp = _temp_beside(target)
    temp.unlink(missing_ok=True)
    try:
        source = sqlite3.connect(_read_only(src), uri=True)
        try:
            _check_sqlite(source, src)
            out = sqlite3.connect(temp)
            try:
                source.backup(out, pages=-1)
                out.execute("PRAGMA journal_mode=WAL")  # the mode the service runs in
            finally:
                out.close()
        finally:
            source.close()
        for leftover in (Path(f"{target}-wal"), Path(f"{target}-shm"), Path(f"{target}-journal")):
            leftover.unlink(missing_ok=True)  # of the empty file, if something opened it
        _sync_and_rename(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _sqlite_has_tables(path: Path) -> bool:
    try:
        conn = sqlite3.connect(_read_only(path), uri=True)
        try:
            return conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return True  # not a database we understand: certainly not one to overwrite


def _restore_postgresql(src: Path, url: URL) -> None:
    with db.engine.connect() as conn:
        count = conn.execute(
            text(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') "
                "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                "AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'"
            )
        ).scalar_one()
    db.engine.dispose()
    if count:
        raise BackupError(
            f"refusing to restore: the database {url.database} already has {count} tables or sequences; "
            "restore into a new, empty database (createdb a new one and point DATABASE_URL at it)"
        )
    pg_restore = find_pg_tool("pg_restore", _server_major())
    target, env = libpq_target(url)
    _run([pg_restore.path, "--list", str(src)], env)
    # One transaction and stop at the first error: a damaged dump leaves the database as empty as it was.
    _run(
        [
            pg_restore.path,
            "--single-transaction",
            "--exit-on-error",
            "--no-owner",
            "--no-privileges",
            "--dbname",
            target,
            str(src),
        ],
        env,
    )
    # pg_restore carries no planner statistics: until autovacuum gathers them every table looks empty, and
    # the verification that follows (the whole ledger) and the first requests would be planned for empty
    # tables.
    with db.engine.begin() as conn:
        conn.execute(text("ANALYZE"))


# --- PostgreSQL's tools ------------------------------------------------------------------------------------


def _server_major() -> int:
    with db.engine.connect() as conn:
        number = int(conn.execute(text("SELECT current_setting('server_version_num')")).scalar_one())
    return number // 10000


def _tool_major(path: str) -> int | None:
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\(PostgreSQL\)\s+(\d+)", out) or re.search(r"\s(\d+)(?:\.\d+)?", out)
    return int(match.group(1)) if match else None


def find_pg_tool(name: str, server_major: int) -> PgTool:
    """The `pg_dump`/`pg_restore` to use against a server of `server_major` (see the module docstring)."""
    forced = os.environ.get("PG_BIN_DIR")
    if forced:
        path = str(Path(forced) / name)
        major = _tool_major(path)
        if major is None:
            raise BackupError(f"PG_BIN_DIR is set but {path} does not run")
        return PgTool(path, major)
    on_path = shutil.which(name)
    found: list[PgTool] = []
    if on_path:
        major = _tool_major(on_path)
        if major is not None:
            if major >= server_major:
                return PgTool(on_path, major)
            found.append(PgTool(on_path, major))
    debian = []
    for directory in glob.glob(DEBIAN_PG_BIN_GLOB):
        candidate = str(Path(directory) / name)
        if os.access(candidate, os.X_OK):
            major = _tool_major(candidate)
            if major is not None:
                debian.append(PgTool(candidate, major))
    found.extend(debian)
    usable = sorted((t for t in debian if t.major >= server_major), key=lambda t: t.major, reverse=True)
    if usable:
        return usable[0]
    seen = ", ".join(f"{t.path} ({t.major})" for t in found) or "none"
    raise BackupError(
        f"no {name} of PostgreSQL {server_major} or newer (the server's version) was found; seen: {seen}. "
        f"Install postgresql-client-{server_major} or set PG_BIN_DIR to its bin directory"
    )


def _run(args: list[str], extra_env: dict[str, str]) -> None:
    env = {**os.environ, **extra_env}
    result = subprocess.run(args, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        tool = Path(args[0]).name
        message = " ".join((result.stderr or result.stdout).strip().splitlines()[-5:])
        if result.returncode < 0:
            message = f"killed by signal {-result.returncode} (a damaged archive can do that) {message}"
        raise BackupError(f"{tool} failed (exit {result.returncode}): {message.strip()}")

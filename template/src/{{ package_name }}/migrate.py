"""Alembic, driven from code: the `migrate` command, start-up checks and the tests use it."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import Engine

from .db import make_engine, normalize_url

#: `migrations/` sits at the project root, beside `src/`.
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(database_url: str) -> Config:
    if not (MIGRATIONS_DIR / "env.py").is_file():
        raise FileNotFoundError(f"Alembic migrations not found at {MIGRATIONS_DIR}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # `%` is Alembic's interpolation character: a password may contain one.
    config.set_main_option("sqlalchemy.url", normalize_url(database_url).replace("%", "%%"))
    return config


class RevisionRefused(Exception):
    """`migrate` goes forward only, to a revision that exists."""


def upgrade(database_url: str, revision: str = "head") -> None:
    """Upgrade the database to `revision`; refuse one that does not exist or that the
    database is already past (Alembic alone would do nothing and say nothing)."""
    config = alembic_config(database_url)
    if revision != "head":
        _refuse_backwards(config, database_url, revision)
    command.upgrade(config, revision)


def _refuse_backwards(config: Config, database_url: str, revision: str) -> None:
    back = f"to go back, back the database up, then run `uv run alembic downgrade {revision}`"
    if revision == "base":
        raise RevisionRefused(f"`migrate` only upgrades, and base is the empty database; {back}")
    script = ScriptDirectory.from_config(config)
    try:
        target = script.get_revision(revision)
    except (CommandError, RevisionError):
        target = None
    if target is None:
        raise RevisionRefused(f"no revision {revision!r} (see `uv run alembic history`)")
    engine = make_engine(database_url)
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    if current is None or current == target.revision:
        return
    if target.revision in {r.revision for r in script.walk_revisions("base", current)}:
        raise RevisionRefused(
            f"the database is at {current}, past {revision}: `migrate` only upgrades; {back}"
        )


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def heads() -> list[str]:
    """The revisions nothing builds on: one, unless two branches need merging."""
    return list(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_at_head(database_url: str) -> bool:
    engine = make_engine(database_url)
    try:
        return current_revision(engine) == head_revision()
    finally:
        engine.dispose()

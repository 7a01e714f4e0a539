"""星级文明户: star settings per village, and append-only publications of a year's ratings.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_APPEND_ONLY = ("star_publications", "star_ratings")


def upgrade():
    op.create_table(
        "star_settings",
        sa.Column("village_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("thresholds", sa.JSON(), nullable=False),
        sa.Column("caps", sa.JSON(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["village_id"], ["villages.id"], name=op.f("fk_star_settings_village_id_villages")
        ),
        sa.PrimaryKeyConstraint("village_id", name=op.f("pk_star_settings")),
    )
    op.create_table(
        "star_publications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("published_by_id", sa.Integer(), nullable=False),
        sa.Column("published_by_name", sa.String(length=100), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["village_id"], ["villages.id"], name=op.f("fk_star_publications_village_id_villages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_star_publications")),
        sa.UniqueConstraint(
            "village_id", "year", "version", name=op.f("uq_star_publications_village_id_year_version")
        ),
    )
    op.create_index(op.f("ix_star_publications_village_id"), "star_publications", ["village_id"], unique=False)
    op.create_table(
        "star_ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("publication_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("household_code", sa.String(length=32), nullable=False),
        sa.Column("head_name", sa.String(length=100), nullable=False),
        sa.Column("group_name", sa.String(length=50), nullable=True),
        sa.Column("earned", sa.BigInteger(), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=False),
        sa.Column("capped_by", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["publication_id"],
            ["star_publications.id"],
            name=op.f("fk_star_ratings_publication_id_star_publications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_star_ratings")),
        sa.UniqueConstraint(
            "publication_id", "household_id", name=op.f("uq_star_ratings_publication_id_household_id")
        ),
    )
    op.create_index(op.f("ix_star_ratings_publication_id"), "star_ratings", ["publication_id"], unique=False)

    # A publication is fixed: the database itself refuses to change or delete one (like the ledger).
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            """
            CREATE FUNCTION star_publications_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'star publications are append-only: % on % refused', TG_OP, TG_TABLE_NAME
                    USING ERRCODE = 'integrity_constraint_violation';
            END
            $$
            """
        )
        for table in _APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION star_publications_refuse_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION star_publications_refuse_change()"
            )
    elif dialect == "sqlite":
        for table in _APPEND_ONLY:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {action} refused'); END"
                )
    else:  # pragma: no cover - only the two supported databases
        raise RuntimeError(f"no append-only triggers for {dialect}")


def downgrade():
    dialect = op.get_bind().dialect.name
    for table in _APPEND_ONLY:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        elif dialect == "sqlite":
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS star_publications_refuse_change()")
    op.drop_index(op.f("ix_star_ratings_publication_id"), table_name="star_ratings")
    op.drop_table("star_ratings")
    op.drop_index(op.f("ix_star_publications_village_id"), table_name="star_publications")
    op.drop_table("star_publications")
    op.drop_table("star_settings")

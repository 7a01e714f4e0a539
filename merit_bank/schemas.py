"""Shared marshmallow pieces: strict base schema, bounded fields, pagination."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, fields, validate
from sqlalchemy import Select, func, select

from .extensions import db
from .inputs import MAX_INT, guard_text_field

# Every integer a client sends fits a PostgreSQL integer, so no request can overflow a column.
__all__ = ["MAX_INT", "Id", "Int", "PageArgs", "StrictSchema", "Text", "page_of"]


class StrictSchema(Schema):
    """Unknown fields are an error, not silently dropped: a typo must not look like success.

    Every text field of every schema refuses control characters (merit_bank.inputs), so no request can
    store a NUL for PostgreSQL to choke on or a character that breaks an XLSX export.
    """

    class Meta:
        unknown = RAISE
        ordered = True

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        guard_text_field(field_obj)


def Id(**kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(1, MAX_INT), **kwargs)


def Int(min_value: int = -MAX_INT, max_value: int = MAX_INT, **kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min_value, max_value), **kwargs)


def Text(max_length: int, min_length: int = 0, multiline: bool = False, **kwargs: Any) -> fields.String:
    """Bounded text; `multiline` lets it hold tab, newline and carriage return (notes, reasons, addresses)."""
    metadata = {**kwargs.pop("metadata", {}), "multiline": multiline}
    return fields.String(validate=validate.Length(min_length, max_length), metadata=metadata, **kwargs)


class PageArgs(StrictSchema):
    class Meta:
        unknown = EXCLUDE  # query strings pick up cache-busters; only bodies are strict

    page = fields.Integer(load_default=1, validate=validate.Range(1, 1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(1, 200))


def page_of(query: Select, page: int, per_page: int, dump) -> dict[str, Any]:
    """Run a select as one page: {items, total, page}."""
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    return {"items": dump(rows), "total": total, "page": page}

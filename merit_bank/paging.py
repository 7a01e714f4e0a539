"""Paging for HTML list pages: one page of a select, its total, and links that keep the query string.

Every list page pages instead of cutting at a fixed limit, so no row silently drops out of sight (the
oldest pending claims used to vanish from a clerk's review queue past the 200th).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import request, url_for
from sqlalchemy import Select, func, select

from .extensions import db
from .inputs import parse_id

PAGE_SIZE = 50


@dataclass(frozen=True)
class Page:
    """One page of rows; `total` counts every row of the query, not just this page's."""

    items: list[Any]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_page(self) -> int:
        # Past the end, "previous" leads back to the last page that has rows.
        return min(self.page - 1, self.pages)

    def url(self, page: int) -> str:
        """This page's address with another page number, every other query parameter kept."""
        args = request.args.to_dict(flat=False)
        args["page"] = [str(page)]
        return url_for(request.endpoint or "", **(request.view_args or {}), **args)


def page_number() -> int:
    """The page asked for in the query string; anything that is not a plain positive number is page 1."""
    return parse_id(request.args.get("page")) or 1


def count(query: Select) -> int:
    """How many rows a select would return (its ordering dropped: it changes nothing here)."""
    return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def paginate(query: Select, per_page: int = PAGE_SIZE, page: int | None = None) -> Page:
    """Run a select of ORM rows as one page (the page from the query string unless given)."""
    page = page or page_number()
    total = count(query)
    items = list(db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    return Page(items=items, total=total, page=page, per_page=per_page)

"""The one order of a village's groups (村民小组): the village's own, not the order of character codes.

一组、二组 … 十组、十一组 and 1组、2组、10组 sort by their numbers; a group given a `position` sorts by it,
before the groups that have none (free-text names such as 东片、西片 need one).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, TypeVar

# Runs of Chinese numerals or of digits (full-width ones included: \d is Unicode-aware).
_NUMBER = re.compile(r"[零〇一二两三四五六七八九十百千]+|\d+")
_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_UNITS = {"十": 10, "百": 100, "千": 1000}
# After every group with a position and every named group: households without a group come last.
_LAST = (2,)


class _Group(Protocol):
    name: str
    position: int | None


G = TypeVar("G", bound=_Group)


def chinese_number(text: str) -> int:
    """一 → 1, 十一 → 11, 二十 → 20, 一百零五 → 105; a run without units reads digit by digit (一〇 → 10)."""
    if not any(ch in _UNITS for ch in text):
        value = 0
        for ch in text:
            value = value * 10 + _DIGITS[ch]
        return value
    total = current = 0
    for ch in text:
        if ch in _UNITS:
            total += (current or 1) * _UNITS[ch]
            current = 0
        else:
            current = _DIGITS[ch]
    return total + current


def name_key(name: str) -> tuple[Any, ...]:
    """The natural key of a name: its numbers (Chinese or Arabic) compare as numbers, the rest as text."""
    parts: list[tuple[int, int, str]] = []
    at = 0
    for match in _NUMBER.finditer(name):
        if match.start() > at:
            parts.append((1, 0, name[at : match.start()]))
        run = match.group()
        parts.append((0, int(run) if run[0].isdigit() else chinese_number(run), ""))
        at = match.end()
    if at < len(name):
        parts.append((1, 0, name[at:]))
    # The whole name breaks ties (一组 and 1组); as a part like the others, it sorts before any longer name.
    return (*parts, (-1, 0, name))


def group_key(name: str | None, position: int | None = None) -> tuple[Any, ...]:
    """The sort key of a group: an explicit position first, then the numeral-aware name; no group last."""
    if name is None or name == "":
        return _LAST
    if position is not None:
        return (0, position, name_key(name))
    return (1, 0, name_key(name))


def sort_groups(groups: Iterable[G]) -> list[G]:
    return sorted(groups, key=lambda g: group_key(g.name, g.position))


def ranks(groups: Iterable[_Group]) -> dict[str, int]:
    """{group name: its place in the village's order}, for sorting rows that carry a group's name."""
    return {g.name: index for index, g in enumerate(sort_groups(groups))}


def row_key(rank_of: Mapping[str, int], name: str | None) -> int:
    """A row's place by its group's name (see `ranks`); rows without a group come last."""
    if not name:
        return len(rank_of) + 1
    return rank_of.get(name, len(rank_of))

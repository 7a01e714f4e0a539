"""Every cell of every CSV and XLSX the service writes goes through here, so no export can carry a formula.

Township officials open exports in Excel and WPS. A name such as `=HYPERLINK("http://…","领取")` must
stay text: following OWASP's CSV-injection advice, a text cell that begins with `=`, `+`, `-`, `@`, tab or
carriage return gets a leading single quote, and XLSX text cells are always written as strings (openpyxl
would otherwise store a string beginning with `=` as a formula). Numbers (int, Decimal, float) stay
numbers, and so does text that is exactly a plain number such as `-12.50` (a settlement's yuan): it
cannot be a formula.

Whatever is already stored is also made safe to write: characters XML cannot hold (most C0 controls, lone
surrogates) become U+FFFD in both formats, so a row stored before input was checked can never break an
export half way through.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
# openpyxl's ILLEGAL_CHARACTERS_RE plus lone surrogates, which UTF-8 (and so the file) cannot encode.
_UNWRITABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def safe_text(value: str) -> str:
    """Text as it may appear in a cell: writable, and never read as a formula."""
    value = _UNWRITABLE.sub(REPLACEMENT, value)
    if value.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def cell_value(value: Any) -> Any:
    """One cell's value: numbers, dates and empties as they are, anything else as safe text."""
    if value is None or isinstance(value, bool | int | float | Decimal | datetime | date):
        return value
    return safe_text(str(value))  # str(): lazy translations and other objects are written as their text


def csv_value(value: Any) -> Any:
    """A CSV cell: money (Decimal) with two decimals, the rest as `cell_value`."""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return cell_value(value)


class SafeCsvWriter:
    """csv.writer whose every cell goes through `csv_value`."""

    def __init__(self, out: Any, **kwargs: Any) -> None:
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([csv_value(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def xlsx_cell(sheet: Any, value: Any, font: Any = None) -> Any:
    """A write-only XLSX cell whose text is stored as a string, never a formula."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=cell_value(value))
    _force_string(cell)
    if font is not None:
        cell.font = font
    return cell


def append_row(sheet: Any, row: Iterable[Any], font: Any = None) -> None:
    """Append a row to a worksheet (write-only or not), every text cell a string."""
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

    if isinstance(sheet, WriteOnlyWorksheet):
        sheet.append([xlsx_cell(sheet, value, font) for value in row])
        return
    values = [cell_value(value) for value in row]
    sheet.append(values)
    for column in range(1, len(values) + 1):
        cell = sheet.cell(row=sheet._current_row, column=column)
        _force_string(cell)
        if font is not None:
            cell.font = font


def _force_string(cell: Any) -> None:
    # openpyxl guesses the type from the value and stores a string beginning with "=" as a formula;
    # the value is already neutralised, this makes sure nothing is ever written as one.
    if isinstance(cell.value, str):
        cell.data_type = "s"


__all__ = [
    "FORMULA_TRIGGERS",
    "SafeCsvWriter",
    "append_row",
    "cell_value",
    "csv_value",
    "safe_text",
    "xlsx_cell",
]

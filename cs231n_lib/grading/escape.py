"""Student-written text made safe for the instructor's terminal, spreadsheet and pages.

Failure messages, notes, file names and student ids come from submissions. Before they
are shown to the instructor:

- `one_line` escapes control characters (ESC, CR, LF, BEL, the other C0 and C1 codes,
  DEL), bidirectional overrides and undecodable bytes as visible `\\x1b`, `\\r`, `\\n`,
  ..., so a message can neither colour or move around the terminal nor start a line
  that looks like the grader's own ("alice: 100/100");
- `csv_cell` escapes the same characters in a text cell (the CSV may be printed with
  `cat`) and makes a cell that a spreadsheet would read as a formula (`=HYPERLINK(...)`,
  `+`, `-`, `@`) plain text with a leading `'`; numbers, and text that is just a number,
  stay numbers;
- `cap_text` keeps the first bytes of a flood and says how much there was.

A leaf module (nothing of the package): the command line imports it cheaply.
"""

from __future__ import annotations

import re

from cs231n_lib.grading.limits import MAX_MESSAGE_BYTES

_TRUNCATED = re.compile(r"\.\.\. \[truncated, ([\d,]+) bytes in all\]$")

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f"  # C0, DEL, C1 (ESC, CR, LF, BEL, CSI ...)
    "\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidirectional marks and overrides
    "\u2028\u2029"  # line and paragraph separators
    "\ud800-\udfff]"  # lone surrogates: bytes of a file name that are not UTF-8
)
_FORMULA_START = tuple("=+-@\uff1d\uff0b\uff0d\uff20")  # and their full-width forms
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _escape(match: re.Match) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def one_line(text: object, limit: int = MAX_MESSAGE_BYTES) -> str:
    """`text` as one printable line: control characters visible as escapes, at most
    about `limit` bytes (see `cap_text`)."""
    return _visible(cap_text(str(text), limit))


def _visible(text: str) -> str:
    return _UNSAFE.sub(_escape, text)


def cap_text(text: str, limit: int = MAX_MESSAGE_BYTES) -> str:
    """`text` if it has at most `limit` UTF-8 bytes, else its first `limit` bytes (whole
    characters) and a note: "... [truncated, N bytes in all]". Text cut before keeps the
    size of the original in its note."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    total = f"{len(data):,}"
    earlier = _TRUNCATED.search(text)
    if earlier:
        total, data = earlier.group(1), text[: earlier.start()].encode("utf-8", "surrogatepass")
    kept = data[:limit].decode("utf-8", "ignore")
    return f"{kept}... [truncated, {total} bytes in all]"


def csv_cell(value: object) -> object:
    """A CSV cell that no spreadsheet runs as a formula and no terminal obeys: in text,
    control characters are escaped as in `one_line`, and text starting with = + - @ gets
    a leading `'`; numbers and numeric text ("-1.5") are left as they are."""
    if not isinstance(value, str):
        return value
    value = _visible(value)
    if value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_row(row: dict) -> dict:
    """Every cell of `row` through `csv_cell`."""
    return {key: csv_cell(value) for key, value in row.items()}


def neutralize_csv_file(path) -> None:
    """Rewrite the CSV file at `path` (nbgrader's grades.csv export) in place with every
    cell through `csv_cell`; its numbers are written as text and stay numbers."""
    import csv

    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([[csv_cell(value) for value in row] for row in rows])

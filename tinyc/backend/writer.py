"""A tiny structured C writer: lines, indented blocks, nothing clever."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class CWriter:
    def __init__(self, indent: str = "  ") -> None:
        self._lines: list[str] = []
        self._depth = 0
        self._indent = indent

    def line(self, text: str = "") -> None:
        self._lines.append(f"{self._indent * self._depth}{text}" if text else "")

    def lines(self, texts: list[str]) -> None:
        for text in texts:
            self.line(text)

    @contextmanager
    def block(self, head: str, tail: str = "}") -> Iterator[None]:
        self.line(f"{head} {{")
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            self.line(tail)

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"

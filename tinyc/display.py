"""Text from a model or the command line, made safe to print on a terminal.

Names come from files anyone can write: a newline would split tinyc's one-line messages,
an ANSI escape would drive the terminal, a bidi control would reorder what a reader sees.
Every line tinyc prints that holds such text passes through `shown` (C text goes through
`tinyc.backend.cnames` instead)."""

from __future__ import annotations


def shown(text: str) -> str:
    """`text` on one line and inert in a terminal: line breaks, control characters, ANSI
    escapes, bidi and other invisible characters become Python escapes (\\n, \\x1b, \\u202e)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)

"""Every string a model or a command line brings into generated C goes through here.

A model's names and metadata, the model path, `-o` and flag values are arbitrary text. In C
they become identifiers (which must be valid, unique in their file and clear of everything
the runtime headers and kernels declare) or comment text (which must not end the comment,
open a nested one, form a trigraph, or carry control, bidi or other non-ASCII characters
that `-Werror` builds or reviewers' terminals trip over). The rules live here, once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tinyc.errors import UsageError

#: C99 keywords (6.4.1); a generated identifier is never one of them
C99_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto "
    "if inline int long register restrict return short signed sizeof static struct switch "
    "typedef union unsigned void volatile while _Bool _Complex _Imaginary".split()
)

#: the C99 standard headers (7.1.2): `-I out/` puts OUT before the system directories, so
#: an `out/string.h` written for a model named `string` would replace `<string.h>`
C99_HEADERS = frozenset(
    "assert complex ctype errno fenv float inttypes iso646 limits locale math setjmp signal "
    "stdarg stdbool stddef stdint stdio stdlib string tgmath time wchar wctype".split()
)

#: C99 guarantees 63 significant characters in an internal identifier or a macro name
MAX_IDENTIFIER = 63
#: the longest `--name`: `NAME_run_with_arena` and `NAME_OUTPUT999_ZERO_POINT` stay within
#: MAX_IDENTIFIER
MAX_MODEL_NAME = 40
#: the longest comment text: C99 only promises 4095 characters in a logical source line
MAX_COMMENT = 1000
#: what C files tinyc generates, copies or includes all begin with (case-insensitively)
TINYC_PREFIX = "tinyc"

_NOT_IDENT = re.compile(r"[^A-Za-z0-9_]")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MODEL_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
#: comments and string/char literals, removed before collecting declared identifiers
_NOT_CODE = re.compile(r"/\*.*?\*/|//[^\n]*|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'", re.S)
_SYSTEM_INCLUDE = re.compile(r"#\s*include\s*<([^>]+)\.h>")
#: adjacent characters a comment must not hold: `*/` ends it, `/*` nests (-Wcomment),
#: `//` confuses tools, `??` starts a trigraph (`??/` + newline splices lines)
_BREAK_PAIRS = frozenset({("*", "/"), ("/", "*"), ("/", "/"), ("?", "?")})


def c_identifier(text: str, prefix: str = "") -> str:
    """A valid, readable C identifier from arbitrary text: every character outside
    [A-Za-z0-9_] (non-ASCII included) becomes `_`, then `prefix` is prepended, and a leading
    digit gets a `_` in front. Not unique and not checked against anything: see Namespace."""
    out = prefix + _NOT_IDENT.sub("_", text)
    if not out or out[0].isdigit():
        out = "_" + out
    return out


def _escape(ch: str) -> str:
    """`ch` as printable ASCII: itself, or a visible escape."""
    if ch == "\\":
        return "\\\\"
    code = ord(ch)
    if 0x20 <= code < 0x7F:
        return ch
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def c_comment(text: str, limit: int = MAX_COMMENT) -> str:
    """`text` made safe between `/* ` and ` */`: one line of printable ASCII, control and
    non-ASCII characters escaped visibly (`\\x1b`, `\\u202e`), backslashes doubled, a space
    between the two characters of `*/`, `/*`, `//` and `??`; cut at `limit` with `...`."""
    out: list[str] = []
    size = 0
    for ch in text:
        piece = _escape(ch)
        if size + len(piece) > limit:
            out.append("...")
            break
        if out and (out[-1][-1], piece[0]) in _BREAK_PAIRS:
            piece = " " + piece
        out.append(piece)
        size += len(piece)
    return "".join(out)


def declared_identifiers(c_text: str) -> set[str]:
    """Every identifier in C source outside comments and literals: what including or
    linking that source may declare (a superset, which is all a reserved set needs)."""
    return set(_IDENT.findall(_NOT_CODE.sub(" ", c_text)))


def system_headers(c_text: str) -> set[str]:
    """The `<...>` headers C source includes, without `.h` (`string`, `arm_acle`)."""
    return set(_SYSTEM_INCLUDE.findall(c_text))


@dataclass(frozen=True)
class ReservedNames:
    """What generated names must not be: identifiers declared by the C tinyc copies into OUT
    or links with, and stems of files OUT holds or its C includes."""

    identifiers: frozenset[str]
    file_stems: frozenset[str]

    @classmethod
    def from_c_files(cls, paths: Iterable[Path], fixed: Iterable[str] = ()) -> ReservedNames:
        """From tinyc's own C files, plus identifiers that generated code declares."""
        identifiers = set(C99_KEYWORDS) | set(fixed)
        stems = set(C99_HEADERS)
        for path in paths:
            text = path.read_text()
            identifiers |= declared_identifiers(text)
            stems |= system_headers(text)
            stems.add(path.name.split(".")[0])
        return cls(frozenset(identifiers), frozenset(s.lower() for s in stems))


class Namespace:
    """The identifiers of one C file: each `claim` returns a new one, distinct from every
    earlier claim and from the reserved set, at most `limit` characters long (less than
    MAX_IDENTIFIER when a prefix is added later, see tinyc.backend.prefix).
    Deterministic: the same claims in the same order give the same identifiers."""

    def __init__(
        self, reserved: Iterable[str] = C99_KEYWORDS, limit: int = MAX_IDENTIFIER
    ) -> None:
        self._taken: set[str] = set(reserved)
        self._limit = limit

    def reserve(self, *names: str) -> None:
        """Identifiers the file declares itself, which claims must avoid."""
        self._taken.update(names)

    def claim(self, hint: str, prefix: str = "") -> str:
        base = c_identifier(hint, prefix)[: self._limit]
        name, i = base, 1
        while name in self._taken:
            suffix = f"_{i}"
            name = base[: self._limit - len(suffix)] + suffix
            i += 1
        self._taken.add(name)
        return name


def model_identifiers(name: str, inputs: int = 1, outputs: int = 1) -> list[str]:
    """The identifiers NAME.h declares for a model called `name`."""
    upper = name.upper()
    macros = ["H", "ARENA_SIZE", "ARENA_ALIGN", "NUM_INPUTS", "NUM_OUTPUTS"]
    for kind, count in (("INPUT", inputs), ("OUTPUT", outputs)):
        for i in range(count):
            macros += [f"{kind}{i}_SIZE", f"{kind}{i}_SCALE", f"{kind}{i}_ZERO_POINT"]
    return [f"{name}_run", f"{name}_run_with_arena", f"{name}_arena_t",
            *(f"{upper}_{m}" for m in macros)]


def model_name_problem(name: str, reserved: ReservedNames) -> str | None:
    """Why `name` cannot name a model's C (its files NAME.c/NAME.h, its identifiers
    NAME_run, NAME_ARENA_SIZE, ...), or None when it can. The lower-case and `_tinyc`
    rules keep two models' names apart in one image (`tinyc.backend.prefix` says why)."""
    if not _MODEL_NAME.fullmatch(name):
        return "must be a C identifier: an ASCII letter, then letters, digits or '_'"
    if len(name) > MAX_MODEL_NAME:
        return f"is {len(name)} characters long; the limit is {MAX_MODEL_NAME}"
    if name in C99_KEYWORDS:
        return "is a C keyword"
    lower = name.lower()
    if lower.startswith(TINYC_PREFIX):
        return f"begins with '{TINYC_PREFIX}', which tinyc's own files and symbols use"
    if f"_{TINYC_PREFIX}" in lower:
        other = lower.split(f"_{TINYC_PREFIX}")[0]
        return (f"holds '_{TINYC_PREFIX}': its names could be those of the kernels of a "
                f"model named '{other}' ({other}_{TINYC_PREFIX}_*)")
    if name != lower:
        return (f"must be lower case: its macros are {name.upper()}_*, which "
                f"'{lower}' would also have")
    if lower in reserved.file_stems:
        return f"{name}.h would shadow a C standard or tinyc header under -I OUT"
    clash = next((i for i in model_identifiers(name) if i in reserved.identifiers), None)
    if clash is not None:
        return f"{clash} is already declared by tinyc's runtime"
    return None


def check_model_name(name: str, reserved: ReservedNames) -> str:
    """`name` itself when it can name a model's C, else a UsageError (exit 2)."""
    problem = model_name_problem(name, reserved)
    if problem is not None:
        shown = c_comment(name, 80)  # escaped: one printable line, whatever the name holds
        raise UsageError(f"--name '{shown}': {problem}")
    return name


def default_model_name(stem: str, reserved: ReservedNames) -> str:
    """The model name from a file stem: sanitized and lower-cased; `model_` in front when
    that is still no valid name (`8bit`, `int`, `string`), `model` when even that is not
    (`tinyc_gemm`, `my_tinyc_net`); at most MAX_MODEL_NAME characters."""
    name = c_identifier(stem).lower().strip("_")[:MAX_MODEL_NAME].rstrip("_")
    if not name:
        return "model"
    if model_name_problem(name, reserved) is None:
        return name
    name = ("model_" + name)[:MAX_MODEL_NAME]
    return name if model_name_problem(name, reserved) is None else "model"

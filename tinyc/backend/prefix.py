"""Per-model names for everything tinyc writes into OUT, so several models link into one image.

The C in `codegen/` and the emitter speak in source names: files `tinyc_conv.c`, functions
`tinyc_conv2d_f32`, macros `TINYC_ALIGN`, NAME.c's tables `tinyc_w_...`. When OUT is
written for a model called NAME, every such name is rewritten here, once, mechanically:

    tinyc_X  ->  NAME_tinyc_X        TINYC_X  ->  NAME_UPPER_TINYC_X
    file tinyc_conv.c  ->  NAME_tinyc_conv.c

The rewrite applies to code and string literals (`#include "tinyc_rt.h"`), not to comments
(they are documentation, and in NAME.c they quote the model's own names). A kernel added to
`codegen/` gets its prefix without being listed anywhere.

Why two models never share a name. Each file name, external symbol, macro and include
guard in OUT is NAME, then `_` or `.`, then a suffix: an interface name (`run`,
`ARENA_SIZE`, `INPUT0_SIZE`, `H`, ...: `cnames.model_identifiers`; `c`/`h` after a `.`) or
the rest of a source name, which begins with `tinyc`/`TINYC`. `cnames.check_model_name`
requires NAME to be lower case (so `KWS_*` belongs to `kws` alone) and to hold `tinyc`
neither at its start nor after a `_`. Suppose models `a` and a longer `b` shared a name:
then `b` is `a_` + p, and that name is `a_` + p + `_` or `.` + q, where p + ... + q is one
of `a`'s suffixes and q one of `b`'s. A source-name suffix has its first `_` right after
`tinyc`, so p would begin with `tinyc` and `b` would hold `_tinyc`: refused. An interface
name would have to continue, after one of its `_`, into another suffix, and none does
(`tests/test_multimodel.py` checks this).
"""

from __future__ import annotations

import re

from tinyc.backend.cnames import TINYC_PREFIX

#: source-name prefixes in codegen/ and the emitter: functions, types, tables; macros
_LOWER = TINYC_PREFIX + "_"
_UPPER = TINYC_PREFIX.upper() + "_"
#: a comment (kept as is), a string literal (rewritten inside), or a name to rewrite
_TOKEN = re.compile(
    r"(?P<comment>/\*.*?\*/|//[^\n]*)"
    r"|(?P<string>\"(?:\\.|[^\"\\\n])*\")"
    r"|(?P<char>'(?:\\.|[^'\\\n])*')"
    rf"|\b(?P<name>{_LOWER}|{_UPPER})",
    re.S,
)
_NAME_START = re.compile(rf"\b({_LOWER}|{_UPPER})")


def is_source_name(name: str) -> bool:
    """True for a name tinyc prefixes per model (`tinyc_conv.c`, `TINYC_ALIGN`)."""
    return name.startswith((_LOWER, _UPPER))


def prefixed(model: str, source_name: str) -> str:
    """The per-model form of one source name: `tinyc_rt.h` -> `kws_tinyc_rt.h`,
    `TINYC_ALIGN` -> `KWS_TINYC_ALIGN`. `model` is a checked model name."""
    if source_name.startswith(_LOWER):
        return f"{model}_{source_name}"
    if source_name.startswith(_UPPER):
        return f"{model.upper()}_{source_name}"
    raise ValueError(f"{source_name!r} is not a tinyc source name")


def prefix_text(model: str, text: str) -> str:
    """C text with every source name in code and string literals made per-model."""

    def rewrite(match: re.Match[str]) -> str:
        if match["name"]:
            return prefixed(model, match["name"])
        if match["string"]:
            return _NAME_START.sub(lambda m: prefixed(model, m[1]), match["string"])
        return match[0]

    return _TOKEN.sub(rewrite, text)


def prefix_files(model: str, files: dict[str, str]) -> dict[str, str]:
    """OUT's files (name -> C text) with per-model file names and contents."""
    return {
        prefixed(model, fname) if is_source_name(fname) else fname: prefix_text(model, text)
        for fname, text in files.items()
    }

"""Regenerate `codegen/pasted_identifiers.txt`: the identifiers the headers in `codegen/` build
with `##` (X-macros such as `tinyc_reduce_##sfx`), which a scan of their text cannot see.

A model's symbols in NAME.c must avoid every identifier the headers it includes declare
(tinyc.backend.generate.reserved_names): the literal ones are found by scanning the files,
the pasted ones are listed here, found by running the C preprocessor over each header. Run
this after changing a header's macros; tests/unit/test_cnames.py fails until the file is
current.

    python scripts/update_pasted_identifiers.py
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tinyc.backend.cnames import declared_identifiers  # noqa: E402
from tinyc.backend.generate import PASTED_IDENTIFIERS, codegen_root  # noqa: E402

_TINYC = re.compile(r"\b(?:tinyc|TINYC)_\w*")


def pasted_identifiers(cc: str = "cc") -> list[str]:
    """tinyc identifiers in the preprocessed headers that appear in no codegen file's text."""
    root = codegen_root()
    literal = set().union(*(declared_identifiers(p.read_text()) for p in root.rglob("*.[ch]")))
    headers = sorted([*(root / "runtime").glob("*.h"), *(root / "kernels").glob("*.h")])
    found: set[str] = set()
    for header in headers:
        proc = subprocess.run(
            [cc, "-std=c99", "-E", "-P", "-I", str(root / "runtime"), "-I", str(root / "kernels"),
             str(header)],
            capture_output=True, text=True, check=True,
        )
        found |= set(_TINYC.findall(proc.stdout))
    return sorted(found - literal)


def file_text(names: list[str]) -> str:
    return "".join(f"{name}\n" for name in names)


def main() -> int:
    path = codegen_root() / PASTED_IDENTIFIERS
    path.write_text(file_text(pasted_identifiers()))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

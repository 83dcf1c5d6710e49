"""Errors a user can cause, each mapped to a documented CLI exit code.

Anything raised from user input is a `TinycError`; the CLI prints its one-line message and
exits with its `exit_code`. Any other exception is a bug in tinyc (exit code 70).
"""

from __future__ import annotations


class TinycError(Exception):
    """Base of every user-facing error."""

    exit_code = 1


class UsageError(TinycError):
    """Bad command line: unknown flag value, missing file, bad `--shape`."""

    exit_code = 2


class ModelError(TinycError):
    """The model file is malformed or its graph is invalid."""

    exit_code = 3


class UnsupportedError(TinycError):
    """The model uses something tinyc does not compile (op, opset, dtype, dynamic shape)."""

    exit_code = 4


class VerifyError(TinycError):
    """`tinyc verify`: the generated C disagrees with the reference, or failed to build."""

    exit_code = 5


class IRError(TinycError):
    """The IR violates an invariant (verifier) or the text IR does not parse."""

    exit_code = 3

"""tinyc/backend/cnames.py: comment text that cannot leave its comment, identifiers that are
valid and unique against each other and the runtime, and model names that collide with no
file or symbol tinyc writes."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyc.backend.cnames import (
    C99_KEYWORDS,
    MAX_COMMENT,
    MAX_IDENTIFIER,
    MAX_MODEL_NAME,
    Namespace,
    c_comment,
    c_identifier,
    check_model_name,
    declared_identifiers,
    default_model_name,
    model_name_problem,
)
from tinyc.backend.generate import PASTED_IDENTIFIERS, codegen_root, reserved_names
from tinyc.errors import UsageError

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
FORBIDDEN = ("*/", "/*", "//", "??")
#: text built from the characters that matter to C comments, and anything else
hostile_text = st.text(alphabet=st.sampled_from("*/?\\\n\r\t\x00\x1b\x7f\u202e\u2066\U0001f600 a_"))
any_text = st.one_of(hostile_text, st.text())


def assert_safe_comment(text: str) -> None:
    for pair in FORBIDDEN:
        assert pair not in text
    assert all(0x20 <= ord(ch) < 0x7F for ch in text), text


@given(any_text)
def test_comment_never_holds_a_forbidden_sequence_or_character(text: str) -> None:
    out = c_comment(text)
    assert_safe_comment(out)
    assert_safe_comment(f"/* {out} */"[2:-2])  # nor where it meets the delimiters


@given(st.text())
def test_comment_keeps_plain_text_as_it_is(text: str) -> None:
    plain = "".join(ch for ch in text if ch.isascii() and ch.isalnum() or ch in " _-.:%")
    assert c_comment(plain[:MAX_COMMENT]) == plain[:MAX_COMMENT]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x */ y", "x * / y"),
        ("a/*b", "a/ *b"),
        ("http://x", "http:/ /x"),
        ("*/*/", "* / * /"),
        ("??/", "? ?/"),
        ("???", "? ? ?"),
        ("line\nnext", "line\\x0anext"),
        ("esc\x1b[31m", "esc\\x1b[31m"),
        ("bidi\u202eok", "bidi\\u202eok"),
        ("emoji\U0001f600", "emoji\\U0001f600"),
        ("back\\slash", "back\\\\slash"),
        ("caf\u00e9", "caf\\xe9"),
        ("/Conv_output_0", "/Conv_output_0"),
    ],
)
def test_comment_escapes_visibly(text: str, expected: str) -> None:
    assert c_comment(text) == expected


def test_comment_is_cut_at_the_limit() -> None:
    out = c_comment("ab" * 5000)
    assert out.endswith("...")
    assert len(out) <= MAX_COMMENT + 3
    assert c_comment("x" * 20, limit=10) == "x" * 10 + "..."


@given(st.text(), st.text(alphabet="abc_"))
def test_identifier_is_valid(text: str, prefix: str) -> None:
    out = c_identifier(text, prefix)
    assert IDENT.fullmatch(out)
    assert out.isascii()


def test_identifier_keeps_readable_names() -> None:
    assert c_identifier("/conv1/Conv_output_0", "tinyc_w_") == "tinyc_w__conv1_Conv_output_0"
    assert c_identifier("0abc") == "_0abc"
    assert c_identifier("") == "_"
    assert c_identifier("\u00e9t\u00e9") == "_t_"


@given(st.lists(any_text, max_size=30))
def test_namespace_claims_are_valid_unique_and_clear_of_the_reserved(hints: list[str]) -> None:
    reserved = {"tinyc_w_a", "tinyc_w_a_1", "tinyc_reduce_params"} | C99_KEYWORDS
    names = Namespace(reserved)
    claimed = [names.claim(hint, "tinyc_w_") for hint in hints]
    assert len(set(claimed)) == len(claimed)
    for name in claimed:
        assert IDENT.fullmatch(name)
        assert len(name) <= MAX_IDENTIFIER
        assert name not in reserved
    again = Namespace(reserved)
    assert [again.claim(hint, "tinyc_w_") for hint in hints] == claimed  # deterministic


def test_namespace_suffixes_collisions_and_keeps_long_names_in_bounds() -> None:
    names = Namespace({"tinyc_reduce_params"})
    assert names.claim("params", "tinyc_reduce_") == "tinyc_reduce_params_1"
    assert [names.claim(h) for h in ("a/b", "a.b", "a_b")] == ["a_b", "a_b_1", "a_b_2"]
    long = [names.claim("x" * 100) for _ in range(12)]
    assert long[0] == "x" * MAX_IDENTIFIER
    assert long[11] == "x" * (MAX_IDENTIFIER - 3) + "_11"
    assert all(len(n) == MAX_IDENTIFIER for n in long)
    names.reserve("int_run")
    assert names.claim("int_run") == "int_run_1"
    short = Namespace(limit=20)  # room for a per-model prefix (tinyc.backend.prefix)
    assert [short.claim("y" * 30) for _ in range(2)] == ["y" * 20, "y" * 18 + "_1"]
    assert Namespace().claim("int") == "int_1"


def test_declared_identifiers_skip_comments_and_literals() -> None:
    text = '/* NAME_run */ int tinyc_f(void); // model_x\nconst char *s = "in_string";'
    assert declared_identifiers(text) == {"int", "tinyc_f", "void", "const", "char", "s"}


def test_reserved_names_come_from_codegen() -> None:
    reserved = reserved_names()
    # kernel functions, parameter structs, macros, the arena, keywords
    for ident in ("tinyc_reduce_params", "tinyc_conv_nd_f32", "tinyc_gemm_f32", "TINYC_ALIGN",
                  "tinyc_arena", "tinyc_mcu_lap", "static", "_Bool"):
        assert ident in reserved.identifiers
    for stem in ("tinyc_gemm", "tinyc_rt", "tinyc_lowp", "string", "math", "stdint", "stdio",
                 "arm_acle"):
        assert stem in reserved.file_stems
    assert "NAME_run" not in reserved.identifiers  # comment text is not a declaration


def test_pasted_identifiers_are_current() -> None:
    """codegen/pasted_identifiers.txt lists what the headers build with `##` (found with the
    C preprocessor); after changing a header run scripts/update_pasted_identifiers.py."""
    from scripts.update_pasted_identifiers import file_text, pasted_identifiers

    names = pasted_identifiers()
    assert "tinyc_reduce_f32" in names and "tinyc_add_act_f32" in names
    assert (codegen_root() / PASTED_IDENTIFIERS).read_text() == file_text(names), (
        "run: python scripts/update_pasted_identifiers.py"
    )


@pytest.mark.parametrize(
    ("hint", "kernel"),
    [("reduce_f32", "tinyc_reduce_f32"), ("reduce_params", "tinyc_reduce_params"),
     ("act_f32", "tinyc_act_f32"), ("add_act_f32", "tinyc_add_act_f32"),
     ("where_f32", "tinyc_where_f32"), ("arena", "tinyc_arena")],
)
def test_symbols_avoid_literal_and_pasted_runtime_names(hint: str, kernel: str) -> None:
    assert kernel in reserved_names().identifiers
    assert Namespace(reserved_names().identifiers).claim(hint, "tinyc_") == kernel + "_1"


@pytest.mark.parametrize("name", ["kws", "net2", "digits_cnn", "a", "mytinyc", "x" * 40])
def test_good_model_names(name: str) -> None:
    assert check_model_name(name, reserved_names()) == name


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "C identifier"),
        ("_x", "C identifier"),
        ("9a", "C identifier"),
        ("a b", "C identifier"),
        ("caf\u00e9", "C identifier"),
        ("a*/b", "C identifier"),
        ("x" * 41, "limit is 40"),
        ("int", "keyword"),
        ("while", "keyword"),
        ("tinyc_gemm", "begins with 'tinyc'"),
        ("TINYC_RT", "begins with 'tinyc'"),
        ("tinyc", "begins with 'tinyc'"),
        ("string", "shadow"),
        ("math", "shadow"),
        ("Net2", "lower case"),
        ("KWS", "lower case"),
        ("model_tinyc", "holds '_tinyc'"),
        ("a_tinyc_conv", "holds '_tinyc'"),
        ("a__tinyc", "holds '_tinyc'"),
        ("stdio", "shadow"),
        ("arm_acle", "shadow"),
    ],
)
def test_bad_model_names_are_refused_with_the_reason(name: str, why: str) -> None:
    problem = model_name_problem(name, reserved_names())
    assert problem is not None and why in problem
    with pytest.raises(UsageError) as err:
        check_model_name(name, reserved_names())
    message = str(err.value)
    assert why in message and "\n" not in message
    assert message.isascii()


@pytest.mark.parametrize(
    ("stem", "expected"),
    [
        ("digits_cnn", "digits_cnn"),
        ("Digits-CNN v2", "digits_cnn_v2"),
        ("tinyc_gemm", "model"),
        ("TINYC_RT", "model"),
        ("my_tinyc_net", "model"),
        ("string", "model_string"),
        ("int", "model_int"),
        ("8bit", "model_8bit"),
        ("_hidden_", "hidden"),
        ("", "model"),
        ("\u00e9\u00e9", "model"),
        ("x */ #define y", "x_____define_y"),
        ("a" * 50, "a" * MAX_MODEL_NAME),
    ],
)
def test_default_model_name(stem: str, expected: str) -> None:
    assert default_model_name(stem, reserved_names()) == expected


@given(any_text)
def test_default_model_name_is_always_a_good_name(stem: str) -> None:
    name = default_model_name(stem, reserved_names())
    assert model_name_problem(name, reserved_names()) is None

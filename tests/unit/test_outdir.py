"""OUT is written as one transaction (tinyc.outdir): a failed run leaves it byte for byte as
it was, a successful one replaces exactly the previous output and keeps every other file,
and a run killed at any step leaves the old or the new output, whole."""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from onnx import TensorProto, helper

from tests.clirun import assert_one_line, cli
from tinyc import outdir
from tinyc.errors import TinycError, UsageError

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"
OLD = {"net.c": "int old;\n", "net.h": "/* old */\n", "tinyc_conv.c": "int conv;\n"}
NEW = {"net.c": "int new;\n", "net.h": "/* new */\n", "tinyc_gemm.c": "int gemm;\n"}
#: a build-system layout: generated files in subdirectories (tinyc.backend.packages)
NESTED = {"src/net.c": "int nested;\n", "src/deep/net.h": "/* nested */\n",
          "net.properties": "name=net\n"}


def snapshot(root: Path) -> dict[str, tuple[str, int, bytes]] | None:
    """Every entry under root (root itself as '.'): kind, permission bits, bytes or target."""
    if not root.exists():
        return None
    tree = {".": ("dir", stat.S_IMODE(root.stat().st_mode), b"")}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        if path.is_symlink():
            entry = ("link", 0, os.readlink(path).encode())
        elif path.is_dir():
            entry = ("dir", stat.S_IMODE(st.st_mode), b"")
        else:
            entry = ("file", stat.S_IMODE(st.st_mode), path.read_bytes())
        tree[str(path.relative_to(root))] = entry
    return tree


def stages(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(outdir.STAGE_PREFIX))


def add_foreign(out: Path, subdir: bool) -> None:
    """The user's own files in OUT: a file, a symlink and, for the journal path, a directory;
    and a file in each directory of the generated output."""
    (out / "notes.txt").write_text("mine\n")
    os.chmod(out / "notes.txt", 0o600)
    (out / "link.h").symlink_to("notes.txt")
    if subdir:
        (out / "sub").mkdir()
        (out / "sub" / "keep.c").write_text("int keep;\n")
    if (out / "src").is_dir():
        (out / "src" / "sketch.c").write_text("int sketch;\n")


def test_manifest_lists_every_generated_file_with_its_sha256(tmp_path: Path) -> None:
    out = tmp_path / "out"
    outdir.write_output_dir(NEW, out)
    lines = (out / outdir.MANIFEST).read_text().splitlines()
    assert lines == [f"{hashlib.sha256(NEW[n].encode()).hexdigest()}  {n}" for n in sorted(NEW)]
    assert sorted(p.name for p in out.iterdir()) == sorted([*NEW, outdir.MANIFEST])
    assert stages(tmp_path) == []


@pytest.mark.parametrize("subdir", [False, True], ids=["exchange", "journal"])
def test_rerun_removes_stale_output_and_keeps_foreign_files(tmp_path: Path,
                                                            subdir: bool) -> None:
    out = tmp_path / "out"
    outdir.write_output_dir(OLD, out)
    add_foreign(out, subdir)
    os.chmod(out, 0o751)
    inode = (out / "notes.txt").stat().st_ino
    out_inode = out.stat().st_ino
    outdir.write_output_dir(NEW, out)
    assert (out.stat().st_ino != out_inode) == (not subdir)  # swapped, or updated in place
    tree = snapshot(out)
    assert tree is not None
    assert not (out / "tinyc_conv.c").exists()  # generated before, not now
    assert {n: tree[n][2].decode() for n in NEW} == NEW
    assert tree["notes.txt"] == ("file", 0o600, b"mine\n")
    assert tree["link.h"] == ("link", 0, b"notes.txt")
    assert (out / "notes.txt").stat().st_ino == inode
    assert tree["."][1] == 0o751
    if subdir:
        assert tree["sub/keep.c"][2] == b"int keep;\n"
    assert stages(tmp_path) == []


@pytest.mark.parametrize("subdir", [False, True], ids=["exchange", "journal"])
def test_subdirectories_come_and_go_with_the_layout(tmp_path: Path, subdir: bool) -> None:
    """flat -> nested -> flat: tinyc's directories appear, keep their mode, and go when
    emptied; one that holds a file of the user's stays; nothing beside OUT changes."""
    out = tmp_path / "out"
    (tmp_path / "beside.txt").write_text("not OUT\n")
    outdir.write_output_dir(OLD, out)
    add_foreign(out, subdir)
    outdir.write_output_dir(NESTED, out)
    tree = snapshot(out)
    assert tree is not None
    assert {n: tree[n][2].decode() for n in NESTED} == NESTED
    assert not any((out / n).exists() for n in OLD)
    assert tree["notes.txt"] == ("file", 0o600, b"mine\n")
    assert (out / outdir.MANIFEST).read_text().count("  src/") == 2
    os.chmod(out / "src", 0o750)
    outdir.write_output_dir(NESTED, out)  # a re-run keeps the directory's mode
    assert stat.S_IMODE((out / "src").stat().st_mode) == 0o750
    (out / "src" / "sketch.c").write_text("int sketch;\n")  # the user's file in tinyc's dir
    outdir.write_output_dir(OLD, out)
    tree = snapshot(out)
    assert tree is not None
    assert {n: tree[n][2].decode() for n in OLD} == OLD
    assert tree["src/sketch.c"][2] == b"int sketch;\n"
    assert not (out / "src" / "deep").exists() and not (out / "src" / "net.c").exists()
    assert ("sub/keep.c" in tree) == subdir
    assert sorted(p.name for p in tmp_path.iterdir()) == ["beside.txt", "out"]
    (out / "src" / "sketch.c").unlink()
    outdir.write_output_dir(NESTED, out)
    outdir.write_output_dir(OLD, out)
    assert not (out / "src").exists()  # emptied: gone


@pytest.mark.parametrize("kind", ["file", "symlink"])
def test_a_directory_tinyc_needs_that_is_a_file_or_symlink_is_refused(tmp_path: Path,
                                                                      kind: str) -> None:
    out = tmp_path / "out"
    outdir.write_output_dir(OLD, out)
    (tmp_path / "elsewhere").mkdir()
    if kind == "file":
        (out / "src").write_text("a file\n")
    else:
        (out / "src").symlink_to(tmp_path / "elsewhere")  # never written through
    before = snapshot(tmp_path)
    with pytest.raises(TinycError, match="src: exists and is not a directory"):
        outdir.write_output_dir(NESTED, out)
    assert snapshot(tmp_path) == before


def test_a_name_both_file_and_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TinycError, match="both as a file and as a directory"):
        outdir.write_output_dir({"src": "x", "src/a.c": "y"}, tmp_path / "out")
    with pytest.raises(TinycError, match="not a plain relative file name"):
        outdir.write_output_dir({"src/../a.c": "y"}, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_working_directory_is_updated_in_place(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """`-o .`: a swap would leave the user's shell in a deleted directory."""
    out = tmp_path / "out"
    outdir.write_output_dir(OLD, out)
    inode = out.stat().st_ino
    monkeypatch.chdir(out)
    outdir.write_output_dir(NEW, ".")
    assert out.stat().st_ino == inode and Path.cwd().stat().st_ino == inode
    assert sorted(p.name for p in out.iterdir()) == sorted([*NEW, outdir.MANIFEST])
    assert stages(tmp_path) == []


def test_a_file_created_in_out_during_the_run_survives_the_swap(tmp_path: Path) -> None:
    out = tmp_path / "out"
    outdir.write_output_dir(OLD, out)

    def meanwhile(label: str) -> None:  # another program writes into OUT mid-run
        if label == "write .tinyc-manifest":
            (out / "late.txt").write_text("late\n")

    outdir.write_output_dir(NEW, out, step=meanwhile)
    assert (out / "late.txt").read_text() == "late\n"
    assert stages(tmp_path) == []


def test_out_through_a_symlink_writes_the_directory_it_names(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to("real")
    outdir.write_output_dir(OLD, tmp_path / "link")
    outdir.write_output_dir(NEW, tmp_path / "link")
    assert (tmp_path / "link").is_symlink()
    assert sorted(p.name for p in (tmp_path / "real").iterdir()) == sorted([*NEW, outdir.MANIFEST])


def test_a_foreign_file_is_never_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "out"
    outdir.write_output_dir(OLD, out)
    (out / "tinyc_gemm.c").write_text("my own gemm\n")  # NEW wants to write this name
    before = snapshot(out)
    with pytest.raises(TinycError, match="tinyc_gemm.c: exists and tinyc did not write it"):
        outdir.write_output_dir(NEW, out)
    assert snapshot(out) == before
    assert stages(tmp_path) == []


def test_a_generated_name_that_became_a_directory_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    outdir.write_output_dir(OLD, out)
    (out / "net.c").unlink()
    (out / "net.c").mkdir()
    before = snapshot(out)
    with pytest.raises(TinycError, match="net.c: exists"):
        outdir.write_output_dir(NEW, out)
    assert snapshot(out) == before


def test_a_manifest_tinyc_did_not_write_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / outdir.MANIFEST).write_text("my shopping list\n")
    before = snapshot(out)
    with pytest.raises(TinycError, match="line 1 is not 'SHA256  NAME'"):
        outdir.write_output_dir(NEW, out)
    assert snapshot(out) == before


def test_new_directories_and_files_honour_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        outdir.write_output_dir(NEW, tmp_path / "out")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o750
    assert stat.S_IMODE((tmp_path / "out" / "net.c").stat().st_mode) == 0o640


def test_a_write_the_system_refuses_changes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    outdir.write_output_dir(OLD, out)
    add_foreign(out, subdir=False)
    before = snapshot(out)
    too_long = {**NEW, "n" * 300 + ".c": "int x;\n"}
    with pytest.raises(OSError, match="File name too long") as info:
        outdir.write_output_dir(too_long, out)
    assert info.value.filename == str(out / ("n" * 300 + ".c"))  # named in OUT, not the stage
    assert snapshot(out) == before
    assert stages(tmp_path) == []


@pytest.mark.parametrize("target, words", [
    ("", "is empty"),
    ("/", "a filesystem root"),
    ("dangling", "a symbolic link to nothing"),
    ("afile", "exists and is not a directory"),
    ("missing/out", "does not exist"),
    ("afile/out", "afile is not a directory"),
])
def test_unusable_targets_are_refused(tmp_path: Path, target: str, words: str) -> None:
    (tmp_path / "dangling").symlink_to("nowhere")
    (tmp_path / "afile").write_text("x")
    before = snapshot(tmp_path)
    with pytest.raises(UsageError, match=words):
        outdir.checked_target(str(tmp_path / target) if target not in ("", "/") else target)
    assert snapshot(tmp_path) == before


def test_cli_refusals_are_one_line_with_their_exit_codes(tmp_path: Path) -> None:
    model = str(MODELS / "digits_cnn.onnx")
    (tmp_path / "dangling").symlink_to("nowhere")
    for target in ("", "/", "dangling"):
        line = assert_one_line(cli(model, "-o", target, cwd=tmp_path), 2)
        assert "-o" in line
    line = assert_one_line(cli(model, "-o", "out", "--name", "n" * 300, cwd=tmp_path), 2)
    assert "the limit is 40" in line
    line = assert_one_line(cli(model, "-o", "o" * 300, cwd=tmp_path), 1)
    assert line.endswith(": File name too long")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling"]
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "model.c").write_text("/* the user's */\n")
    line = assert_one_line(cli(model, "-o", "out", "--name", "model", cwd=tmp_path), 1)
    assert "model.c: exists and tinyc did not write it" in line
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["model.c"]


def test_a_failed_compile_leaves_out_byte_for_byte(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli(str(MODELS / "digits_cnn.onnx"), "-o", str(out), "--report").returncode == 0
    add_foreign(out, subdir=True)
    before = snapshot(out)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph([helper.make_node("NonZero", ["x"], ["y"])], "g", [x], [y])
    bad = tmp_path / "digits_cnn.onnx"
    bad.write_bytes(helper.make_model(graph).SerializeToString())
    assert_one_line(cli(str(bad), "-o", str(out)), 4)
    assert snapshot(out) == before
    assert stages(tmp_path) == []


def _small_file_limit() -> None:
    """In the child: files may not grow past 16 KiB, and a write beyond fails with EFBIG
    instead of the default SIGXFSZ (a disk that fills up in the middle of the run)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (16384, 16384))


def test_a_disk_that_fills_up_mid_write_changes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli(str(MODELS / "kws_dscnn.onnx"), "-o", str(out), "--name", "model").returncode == 0
    add_foreign(out, subdir=False)
    before = snapshot(out)
    proc = cli(str(MODELS / "digits_cnn.onnx"), "-o", str(out), "--name", "model",
               preexec_fn=_small_file_limit)
    assert assert_one_line(proc, 1).endswith(f"{out / 'model.c'}: File too large")
    assert snapshot(out) == before
    assert stages(tmp_path) == []


def _without_root_override() -> None:
    """In the child, as root: drop the capabilities that ignore permission bits (from the
    bounding set, so the exec'd Python has them in no set), so a 0555 directory is read-only
    for it as for anyone else."""
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
            if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_unwritable_out_or_parent_is_one_line_exit_1(tmp_path: Path) -> None:
    model = str(MODELS / "digits_cnn.onnx")
    out = tmp_path / "out"
    assert cli(model, "-o", str(out)).returncode == 0
    (tmp_path / "ro").mkdir()
    before = snapshot(tmp_path)
    for path in (out, tmp_path / "ro"):
        os.chmod(path, 0o555)
    try:
        for target, where in ((out, out), (tmp_path / "ro" / "fresh", tmp_path / "ro")):
            proc = cli(model, "-o", str(target), preexec_fn=_without_root_override)
            assert f"{where} is not writable" in assert_one_line(proc, 1)
    finally:
        for path in (out, tmp_path / "ro"):
            os.chmod(path, 0o755)
    assert snapshot(tmp_path) == before


_KILLED_WRITER = """
import json, os, signal, sys
from tinyc import outdir
spec = json.loads(sys.argv[1])
count = 0
def step(label):
    global count
    count += 1
    if count == spec["kill_at"]:
        os.kill(os.getpid(), signal.SIGKILL)
outdir.write_output_dir(spec["files"], spec["out"], step=step)
"""


_KILL_CASES = [(layout, before, after) for layout in ("fresh", "exchange", "journal")
               for before, after in ((OLD, NEW), (OLD, NESTED), (NESTED, OLD))
               if layout != "fresh" or before is OLD]  # fresh: `before` is never written


@pytest.mark.parametrize("layout, before, after", _KILL_CASES,
                         ids=[f"{c[0]}-{'nested' if c[1] is NESTED else 'flat'}-to-"
                              f"{'nested' if c[2] is NESTED else 'flat'}" for c in _KILL_CASES])
def test_kill_9_at_every_step_leaves_old_or_new(tmp_path: Path, layout: str,
                                                before: dict[str, str],
                                                after: dict[str, str]) -> None:
    out = tmp_path / "out"

    def old_state() -> None:
        if out.exists():
            shutil.rmtree(out)
        if layout != "fresh":
            outdir.write_output_dir(before, out)
            add_foreign(out, subdir=layout == "journal")

    old_state()
    old = snapshot(out)
    outdir.write_output_dir(after, out)
    new = snapshot(out)
    seen = set()
    for kill_at in range(1, 100):
        old_state()
        spec = json.dumps({"files": after, "out": str(out), "kill_at": kill_at})
        proc = subprocess.run([sys.executable, "-c", _KILLED_WRITER, spec], cwd=tmp_path,
                              capture_output=True, text=True)
        if proc.returncode == 0:
            break  # every step has been killed once
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        state = snapshot(out)
        if layout == "journal" and state not in (old, new):
            # killed after the commit record: the next run completes the output
            assert len(stages(tmp_path)) == 1
            outdir.recover(out)
            state = snapshot(out)
        assert state in (old, new), f"killed at step {kill_at}"
        seen.add("old" if state == old else "new")
        outdir.write_output_dir(after, out)  # the next run cleans up and writes
        assert snapshot(out) == new and stages(tmp_path) == []
    else:
        pytest.fail("the writer never finished")
    assert kill_at > len(after) + 2 and seen == {"old", "new"}


_WRITER = """
import json, sys
from tinyc import outdir
for _ in range(5):
    outdir.write_output_dir(json.loads(sys.argv[1]), sys.argv[2])
"""


def test_concurrent_runs_into_one_out_are_serialized(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    add_foreign(out, subdir=False)
    outputs = [{f"w{i}.c": f"int w{i};\n", "model.h": f"/* {i} */\n"} for i in range(4)]
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, json.dumps(files), str(out)])
             for files in outputs]
    assert [p.wait() for p in procs] == [0] * len(procs)
    names = sorted(p.name for p in out.iterdir())
    winner = next(files for files in outputs if set(files) <= set(names))
    assert names == sorted([*winner, outdir.MANIFEST, "notes.txt", "link.h"])
    assert all((out / n).read_text() == text for n, text in winner.items())
    assert stages(tmp_path) == []

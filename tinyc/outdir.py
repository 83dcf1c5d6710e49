"""Write the output directory OUT as one transaction.

What a user can rely on:

- A failed run leaves OUT as it was: the files are generated in memory first, every check
  runs before anything is written, and the new files are staged in a sibling directory.
- A successful run writes `OUT/.tinyc-manifest` (one `SHA256  NAME` line per generated file,
  sorted; `sha256sum -c .tinyc-manifest` checks them), removes the files the previous run's
  manifest lists and this run does not generate, and touches no other file. A file tinyc
  would write that exists in OUT but is not in the manifest is somebody else's: the run is
  refused and nothing is written.
- A NAME may hold `/` (`src/model.c`, a build-system layout): its directories are created
  as needed and are tinyc's while a manifest entry lies below them. One that no longer
  holds a generated file goes when it is empty, and stays (the user's) when it is not.
- A new OUT gets the umask's mode; an existing OUT keeps its mode.
- kill -9 at any moment leaves OUT as the old or the new output, and the next run into OUT
  removes what the killed run left (see below for the one weaker case).

How. All runs into directories of one parent hold an exclusive `flock` on that parent, so a
staging directory found while holding it belongs to a dead run. Staging directories are
named `.tinyc-stage-<hash of OUT's name>-<random>`; each run first disposes of those of its
own OUT and nothing else.

1. Exchange (Linux, the usual case). The stage is built as the complete new OUT: the
   generated files plus hard links to the files in OUT that stay (the user's files and
   symlinks, also those inside tinyc's subdirectories, which are made anew with their
   modes). It gets OUT's mode, then `renameat2(RENAME_EXCHANGE)` swaps the two
   directories in one step: that is the commit. The old tree, now under the staging name,
   is removed; a file someone created in OUT between tinyc's scan and the swap is moved
   back. A kill before the swap leaves OUT untouched, after it OUT is complete. OUT's
   directory inode changes (its mode is kept, ACLs and extended attributes of the
   directory itself are not), and foreign files' ctime changes (link count).
2. Roll-forward journal (the fallback: OUT holds a directory that is not tinyc's, is not
   owned by the user, is the working directory or one of its parents, is a mount point,
   or the system has no `renameat2`/hard links). The stage holds the generated files; it
   sits inside OUT when OUT is a mount point, so that the moves stay on one device. A
   commit record written into it by an atomic rename lists the files to move into OUT,
   the stale files to delete and the directories to remove if that leaves them empty.
   The files are then moved one by one, the manifest last. A kill before the record
   leaves OUT untouched; a kill after it leaves OUT partly updated until the next tinyc
   run into OUT (or `recover`) completes the moves. Until then a program reading OUT
   directly can see a mix of old and new files: that is the weaker guarantee.

The guarantee covers the death of the process, not a power cut (nothing is fsynced).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import os
import re
import secrets
import shutil
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tinyc.errors import TinycError, UsageError

MANIFEST = ".tinyc-manifest"
STAGE_PREFIX = ".tinyc-stage-"
COMMIT = ".tinyc-commit"
_COMMIT_HEADER = "tinyc commit 1"
_MANIFEST_LINE = re.compile(r"([0-9a-f]{64})  (.+)")
_FALLBACK_ERRNOS = {errno.EINVAL, errno.ENOSYS, errno.EXDEV, errno.EBUSY, errno.ENOTSUP,
                    errno.EOPNOTSUPP, errno.EPERM, errno.EMLINK, errno.EACCES}

#: called with a label after every step that changes the disk (tests kill the process there)
StepHook = Callable[[str], None]


def write_output_dir(files: Mapping[str, str | bytes], out_dir: str | os.PathLike[str],
                     *, step: StepHook | None = None) -> Path:
    """Make OUT hold `files` (name -> text) plus the manifest; return OUT's real path.

    Raises UsageError for an unusable `-o`, TinycError for a conflict with a foreign file
    or an unwritable OUT, and OSError (naming a path in OUT) when the system refuses."""
    out = checked_target(out_dir)
    blobs = {name: _encoded(name, text) for name, text in sorted(files.items())}
    clash = sorted(set(blobs) & _ancestors(blobs))
    if clash:
        raise TinycError(f"cannot write {clash[0]!r} both as a file and as a directory")
    blobs[MANIFEST] = manifest_text(blobs).encode()
    hook = step or _no_step
    with _parent_lock(out):
        _recover_locked(out)
        old = _scan(out, blobs)
        _refuse_conflicts(out, old, blobs)
        if old is None:
            _create(out, blobs, hook)
        elif not (_exchange_possible(out, old) and _write_by_exchange(out, old, blobs, hook)):
            _write_by_journal(out, old, blobs, hook)
    return out


def recover(out_dir: str | os.PathLike[str]) -> None:
    """Finish or undo what a killed run left for OUT (every run does this first)."""
    out = checked_target(out_dir)
    with _parent_lock(out):
        _recover_locked(out)


def checked_target(out_dir: str | os.PathLike[str]) -> Path:
    """OUT as an absolute path with symlinks resolved, or a UsageError saying why not."""
    text = os.fspath(out_dir)
    if text == "":
        raise UsageError("-o '': the output directory name is empty")
    path = Path(text)
    if path.is_symlink() and not path.exists():
        raise UsageError(f"-o {text}: a symbolic link to nothing (dangling or a loop)")
    real = Path(os.path.realpath(path))
    if real.parent == real:
        raise UsageError(f"-o {text}: a filesystem root; choose a directory below it")
    if real.exists() and not real.is_dir():
        raise UsageError(f"-o {text}: exists and is not a directory")
    if not real.parent.is_dir():
        problem = "is not a directory" if real.parent.exists() else "does not exist"
        raise UsageError(f"-o {text}: parent directory {real.parent} {problem}")
    for directory in (real, real.parent) if real.exists() else (real.parent,):
        if not os.access(directory, os.R_OK | os.W_OK | os.X_OK):
            raise TinycError(f"-o {text}: {directory} is not writable")
    return real


def manifest_text(blobs: Mapping[str, bytes]) -> str:
    """`SHA256  NAME` per generated file, sorted by name (the format of sha256sum)."""
    return "".join(f"{hashlib.sha256(blobs[name]).hexdigest()}  {name}\n"
                   for name in sorted(blobs) if name != MANIFEST)


def read_manifest(out: Path) -> frozenset[str]:
    """The names OUT's manifest lists (empty without one); a TinycError if it is not ours."""
    path = out / MANIFEST
    if not path.exists() and not path.is_symlink():
        return frozenset()
    if path.is_symlink() or not path.is_file():
        raise TinycError(f"{path}: not a file tinyc wrote; remove it or choose another -o")
    names = set()
    for number, line in enumerate(path.read_bytes().decode("utf-8", "replace").splitlines(), 1):
        match = _MANIFEST_LINE.fullmatch(line)
        if match is None or not _relative_name(match.group(2)):
            raise TinycError(f"{path}: line {number} is not 'SHA256  NAME'; remove the file "
                             "if tinyc did not write it")
        names.add(match.group(2))
    return frozenset(names)


@dataclass(frozen=True)
class _Existing:
    """An existing OUT as scanned under the lock."""

    stat: os.stat_result
    #: lstat of every entry of OUT, and of every entry below a directory that holds (or
    #: will hold) a generated file, by relative name (`src/model.c`)
    entries: dict[str, os.stat_result]
    generated: frozenset[str]  # what the previous run's manifest lists

    def keeps(self, name: str, blobs: Mapping[str, bytes]) -> bool:
        """An entry that is not the previous output (a directory always stays)."""
        if name in blobs:
            return False
        tinycs = name in self.generated or name == MANIFEST
        return not tinycs or self.is_dir(name)

    def is_dir(self, name: str) -> bool:
        return stat.S_ISDIR(self.entries[name].st_mode)

    def tinyc_dirs(self) -> set[str]:
        """The directories the previous output has files in."""
        return {d for d in _ancestors(self.generated) if d in self.entries and self.is_dir(d)}


def _no_step(label: str) -> None:
    """The default StepHook."""


def _encoded(name: str, text: str | bytes) -> bytes:
    if not _relative_name(name) or name == MANIFEST or name.startswith(STAGE_PREFIX):
        raise TinycError(f"cannot write {name!r}: not a plain relative file name")
    return text if isinstance(text, bytes) else text.encode("utf-8")


def _plain_name(name: str) -> bool:
    return name not in ("", ".", "..") and not any(c in name for c in "/\0\n\r")


def _relative_name(name: str) -> bool:
    """Plain names joined by `/`: never absolute, never `..`, never empty parts."""
    return all(_plain_name(part) for part in name.split("/"))


def _ancestors(names: Iterable[str]) -> set[str]:
    """The directories the relative `names` lie in (`a/b/c` gives `a` and `a/b`)."""
    parts = (name.split("/") for name in names)
    return {"/".join(p[:i]) for p in parts for i in range(1, len(p))}


def _by_depth(names: Iterable[str]) -> list[str]:
    """Deepest first: the order in which empty directories can be removed."""
    return sorted(names, key=lambda name: (-name.count("/"), name))


@contextmanager
def _parent_lock(out: Path) -> Iterator[None]:
    """Serialize tinyc runs into OUT's parent; released by the kernel if the process dies."""
    fd = os.open(out.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _stage_pattern(out: Path) -> str:
    return f"{STAGE_PREFIX}{hashlib.sha256(os.fsencode(out.name)).hexdigest()[:12]}-"


def _stage_home(out: Path) -> Path:
    """Beside OUT, or inside it when OUT is a mount point (a rename cannot cross devices)."""
    if out.is_dir() and os.stat(out).st_dev != os.stat(out.parent).st_dev:
        return out
    return out.parent


def _new_stage(out: Path) -> Path:
    """An empty staging directory for OUT, mode from the umask."""
    stage = _stage_home(out) / f"{_stage_pattern(out)}{secrets.token_hex(4)}"
    os.mkdir(stage, 0o777)
    return stage


def _recover_locked(out: Path) -> None:
    prefix = _stage_pattern(out)
    for entry in sorted(os.scandir(_stage_home(out)), key=lambda e: e.name):
        if not entry.name.startswith(prefix) or not entry.is_dir(follow_symlinks=False):
            continue
        stage = Path(entry.path)
        if _commit_record(stage) is not None and out.is_dir():
            _roll_forward(stage, out, _no_step)
        shutil.rmtree(stage)


def _scan(out: Path, blobs: Mapping[str, bytes]) -> _Existing | None:
    """OUT's entries, and those below the real (not symlinked) directories that old or new
    generated files lie in; other directories are not entered."""
    if not out.exists():
        return None
    generated = read_manifest(out)
    wanted = _ancestors(generated) | _ancestors(blobs)
    entries: dict[str, os.stat_result] = {}
    pending = [""]
    while pending:
        prefix = pending.pop()
        for entry in os.scandir(out / prefix if prefix else out):
            name = f"{prefix}{entry.name}"
            entries[name] = entry.stat(follow_symlinks=False)
            if name in wanted and stat.S_ISDIR(entries[name].st_mode):
                pending.append(f"{name}/")
    return _Existing(os.stat(out), entries, generated)


def _refuse_conflicts(out: Path, old: _Existing | None, blobs: Mapping[str, bytes]) -> None:
    if old is None:
        return
    for name in blobs:
        for directory in sorted(_ancestors([name])):
            if directory in old.entries and not old.is_dir(directory):
                raise TinycError(f"{out / directory}: exists and is not a directory, but tinyc "
                                 f"writes {name} into it; remove it or choose another -o")
        st = old.entries.get(name)
        if st is None or name == MANIFEST:
            continue
        if name not in old.generated or stat.S_ISDIR(st.st_mode):
            raise TinycError(f"{out / name}: exists and tinyc did not write it (it is not in "
                             f"{MANIFEST}); remove it or choose another -o or --name")


def _write_files(stage: Path, out: Path, blobs: Mapping[str, bytes], hook: StepHook) -> None:
    """The generated files into `stage`; an OSError names the file as it would be in OUT."""
    for name, blob in blobs.items():
        try:
            if "/" in name:
                os.makedirs((stage / name).parent, 0o777, exist_ok=True)
            fd = os.open(stage / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(out / name)) from None
        hook(f"write {name}")


@contextmanager
def _stage_for(out: Path) -> Iterator[Path]:
    """A staging directory, removed on the way out unless it became OUT or the old OUT was
    swapped into it (then the body disposes of it) or it holds a commit record that a
    failed roll-forward left for the next run."""
    stage = _new_stage(out)
    try:
        yield stage
    finally:
        if stage.exists() and _commit_record(stage) is None:
            shutil.rmtree(stage)


def _create(out: Path, blobs: Mapping[str, bytes], hook: StepHook) -> None:
    with _stage_for(out) as stage:
        hook("stage")
        _write_files(stage, out, blobs, hook)
        os.rename(stage, out)
        hook("renamed")


def _exchange_possible(out: Path, old: _Existing) -> bool:
    if _renameat2() is None or old.stat.st_uid != os.geteuid() or _stage_home(out) == out:
        return False
    cwd = Path(os.path.realpath(os.getcwd()))
    if cwd == out or out in cwd.parents:
        return False
    ours = old.tinyc_dirs()  # made anew in the stage; any other directory cannot be linked
    return all(name in ours for name in old.entries if old.is_dir(name))


def _write_by_exchange(out: Path, old: _Existing, blobs: Mapping[str, bytes],
                       hook: StepHook) -> bool:
    """Swap in a complete new OUT; False (nothing changed) when the system refuses."""
    kept = [name for name in sorted(old.entries)
            if not old.is_dir(name) and old.keeps(name, blobs)]
    with _stage_for(out) as stage:
        hook("stage")
        _write_files(stage, out, blobs, hook)
        try:
            for name in kept:
                if "/" in name:
                    os.makedirs((stage / name).parent, 0o777, exist_ok=True)
                os.link(out / name, stage / name, follow_symlinks=False)
                hook(f"link {name}")
            for directory in old.tinyc_dirs():
                if (stage / directory).is_dir():
                    os.chmod(stage / directory, stat.S_IMODE(old.entries[directory].st_mode))
            os.chmod(stage, stat.S_IMODE(old.stat.st_mode))
            if os.stat(stage).st_gid != old.stat.st_gid:
                os.chown(stage, -1, old.stat.st_gid)
        except OSError as exc:
            if exc.errno in _FALLBACK_ERRNOS:
                return False
            raise
        if not _rename_exchange(stage, out):
            return False
        hook("exchanged")
        _dispose_old_tree(stage, out, old, kept)
        hook("disposed")
    return True


def _dispose_old_tree(tree: Path, out: Path, old: _Existing, kept: list[str]) -> None:
    """Remove the swapped-out OUT: the old output and the links to kept files; anything
    else appeared during the run and goes back into OUT (into its directory, made anew if
    the new output has none)."""
    ours = old.tinyc_dirs()
    pending = [""]
    while pending:
        prefix = pending.pop()
        for entry in os.scandir(tree / prefix if prefix else tree):
            name = f"{prefix}{entry.name}"
            mine = name in old.generated or name == MANIFEST
            if name in ours and entry.is_dir(follow_symlinks=False):
                pending.append(f"{name}/")
                continue
            if not mine and name in kept:
                twin = os.stat(out / name, follow_symlinks=False)
                mine = twin.st_ino == entry.inode()
            if mine:
                os.unlink(entry.path)
            elif not os.path.lexists(out / name):
                os.makedirs((out / name).parent, 0o777, exist_ok=True)
                os.rename(entry.path, out / name)
    shutil.rmtree(tree)


def _write_by_journal(out: Path, old: _Existing, blobs: Mapping[str, bytes],
                      hook: StepHook) -> None:
    stale = [name for name in sorted(old.generated)
             if name in old.entries and name not in blobs and not old.keeps(name, blobs)]
    installs = [name for name in blobs if name != MANIFEST] + [MANIFEST]
    emptied = _by_depth(_ancestors(stale) - _ancestors(blobs))
    with _stage_for(out) as stage:
        hook("stage")
        _write_files(stage, out, blobs, hook)
        record = [f"{_COMMIT_HEADER} {stage.name}"]
        record += [f"install {name}" for name in installs] + [f"remove {name}" for name in stale]
        record += [f"rmdir {name}" for name in emptied]
        (stage / f"{COMMIT}.tmp").write_text("\n".join(record) + "\n")
        hook("record written")
        os.rename(stage / f"{COMMIT}.tmp", stage / COMMIT)
        hook("committed")
        _roll_forward(stage, out, hook)
        shutil.rmtree(stage)
        hook("disposed")


def _commit_record(stage: Path) -> list[tuple[str, str]] | None:
    """The (action, name) pairs of a complete commit record in `stage`, else None."""
    try:
        lines = (stage / COMMIT).read_text().splitlines()
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
        return None
    if not lines or lines[0] != f"{_COMMIT_HEADER} {stage.name}":
        return None
    steps = [tuple(line.split(" ", 1)) for line in lines[1:]]
    if not all(len(s) == 2 and s[0] in ("install", "remove", "rmdir") and _relative_name(s[1])
               for s in steps):
        return None
    return steps  # type: ignore[return-value]


def _roll_forward(stage: Path, out: Path, hook: StepHook) -> None:
    """Apply a commit record; every step is idempotent, so a killed roll-forward resumes.
    A directory is removed only when empty: a file of the user's in it keeps it."""
    for action, name in _commit_record(stage) or []:
        if action == "install" and os.path.lexists(stage / name):
            if "/" in name:
                os.makedirs((out / name).parent, 0o777, exist_ok=True)
            os.replace(stage / name, out / name)
        elif action == "remove" and os.path.lexists(out / name):
            os.unlink(out / name)
        elif action == "rmdir" and _removed_if_empty(out / name):
            pass
        else:
            continue
        hook(f"{action} {name}")
    os.unlink(stage / COMMIT)
    hook("record removed")


def _removed_if_empty(directory: Path) -> bool:
    try:
        os.rmdir(directory)
    except FileNotFoundError:
        return False
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
            return False
        raise
    return True


def _renameat2():  # noqa: ANN202 (a ctypes function or None)
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _rename_exchange(a: Path, b: Path) -> bool:
    """Swap two directories atomically; False when this filesystem cannot."""
    fn = _renameat2()
    if fn is None:
        return False
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in _FALLBACK_ERRNOS:
        return False
    raise OSError(code, os.strerror(code), str(b))

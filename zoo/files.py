"""Safe writes: every file and folder the zoo writes appears whole or not at all, and never clobbers another writer's
temporary file.

A write goes to a temporary name made unique by :func:`tempfile.mkstemp` / :func:`tempfile.mkdtemp` in the target's
own folder (so the final :func:`os.replace` is a rename on one file system), is flushed to disk, then renamed into
place. Several processes writing the same target at once each finish with a whole file; the last rename wins.
What appears has the permissions the process's umask gives a new file or folder (mkstemp alone would give 0600).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from zoo.errors import ZooError


def sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def umask() -> int:
    """The process's umask, read without changing it where Linux allows (os.umask sets it to read it)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_writable(path, what: str = "output") -> Path:
    """``path`` as a file to (over)write, or a :class:`ZooError` naming the problem (a folder there, no parent)."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise ZooError(f"{what} {path} is a folder; name a file in it, e.g. {path / 'out.png'}")
    if path.parent.exists() and not path.parent.is_dir():
        raise ZooError(f"{what} {path}: {path.parent} is a file, not a folder")
    return path


@contextlib.contextmanager
def atomic_path(path, *, what: str = "output"):
    """Yield a unique temporary path beside ``path``; when the block ends cleanly it is renamed to ``path``,
    otherwise deleted. For writers that need a file name (PIL, numpy, Keras)."""
    path = check_writable(path, what)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    tmp = Path(name)
    os.chmod(tmp, 0o666 & ~umask())
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path, content: bytes | str, *, what: str = "output") -> Path:
    """Write ``content`` (text as UTF-8) to ``path`` atomically; return the path."""
    with atomic_path(path, what=what) as tmp:
        tmp.write_bytes(content.encode() if isinstance(content, str) else content)
    return Path(path)


def temporary_folder(final) -> Path:
    """A new, empty, uniquely named folder beside ``final``, to fill and then :func:`replace_folder` into place."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
    os.chmod(tmp, 0o777 & ~umask())
    return tmp


def replace_folder(tmp, final) -> Path:
    """Put the folder ``tmp`` at ``final``, replacing what was there; a reader sees the old or the new folder."""
    tmp, final = Path(tmp), Path(final)
    for path in tmp.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
    old = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.old.", suffix=".tmp"))
    try:
        for attempt in range(100):  # another process may be putting its own folder at final meanwhile
            with contextlib.suppress(FileNotFoundError):
                os.replace(final, old / str(attempt))
            try:
                os.replace(tmp, final)
                break
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
        else:
            raise ZooError(f"could not put {final} in place: other processes keep writing it")
    finally:
        shutil.rmtree(old, ignore_errors=True)
    return final


def is_temporary(path) -> bool:
    """Whether ``path`` is one of these writers' temporary files or folders (left behind by a killed process)."""
    name = Path(path).name
    return name.startswith(".") and name.endswith(".tmp")

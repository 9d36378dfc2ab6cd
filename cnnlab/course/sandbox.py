"""The sandbox a submission's kernel runs in: bubblewrap (``bwrap``), as Debian ships it.

Every kernel of ``cnnlab grade`` gets its own:

* **namespaces**: ``--unshare-all`` (no network: the kernel talks to the grader over Unix
  sockets, ZMQ's ``ipc`` transport; its own PID namespace, so it sees no other process and
  everything it starts dies with it; ``--die-with-parent``; ``--new-session``, so it cannot
  push keystrokes into the grader's terminal);
* **no capabilities**: ``--cap-drop ALL``. Run as root, bwrap would otherwise keep them inside,
  and a ``mount -o remount,bind,rw`` of a read-only bind would write through to the host;
* **files**: read-only binds of the system (``/usr``, ``/lib*``, a few files of ``/etc``), of
  this Python (``sys.prefix`` and its base) and its other import paths, of the installed
  ``cnnlab`` (for an editable install, its package folder only) and of the course's data;
  ``/tmp`` is the kernel's private scratch folder, also its HOME and working folder (so no
  ``~/.ipython`` startup file or user site-packages of the instructor is read); and under
  ``/run/cnnlab``: ``ipc`` (its connection file and sockets), ``in`` (the grader's requests,
  read-only) and ``out`` (its replies). Nothing else of the course: not ``solutions/``, not the
  results folder, not other submissions, not Jupyter's runtime folder (other kernels' keys);
* **environment**: cleared, then only what the kernel needs (:func:`command`'s ``env``).

:func:`probe` says whether bwrap works here (and if not, what to install).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["HOME", "INSIDE", "Folders", "command", "package_path", "probe", "python_paths"]

#: Where the kernel sees its private folders (see :class:`Folders`).
INSIDE = Path("/run/cnnlab")
HOME = Path("/tmp")
_SYSTEM = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# What of /etc a Python kernel with NumPy and matplotlib reads; nothing with secrets in it.
_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "passwd", "group",
        "alternatives", "fonts", "mime.types", "os-release")


@dataclass
class Folders:
    """The host side of one kernel's private folders, all under ``root`` (mode 0700)."""

    root: Path

    @classmethod
    def make(cls, parent=None) -> "Folders":
        root = Path(tempfile.mkdtemp(prefix="k", dir=parent))
        folders = cls(root)
        for sub in (folders.home, folders.ipc, folders.inbox, folders.outbox):
            sub.mkdir(mode=0o700)
        return folders

    @property
    def home(self) -> Path:  # /tmp, HOME and the working folder inside
        return self.root / "home"

    @property
    def ipc(self) -> Path:  # the connection file and ZMQ's sockets
        return self.root / "ipc"

    @property
    def inbox(self) -> Path:  # the grader's requests (read-only inside)
        return self.root / "in"

    @property
    def outbox(self) -> Path:  # the kernel's replies
        return self.root / "out"

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@functools.lru_cache(maxsize=None)
def probe() -> str | None:
    """None when bubblewrap can sandbox a process here; otherwise why not and what to do."""
    if not sys.platform.startswith("linux"):
        return (f"bubblewrap sandboxes kernels on Linux only (this is {sys.platform}); grade on a Linux "
                "machine, or pass --no-sandbox to grade without a sandbox (see the README)")
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return ("bubblewrap is not installed: `sudo apt-get install bubblewrap` (Debian, Ubuntu) or "
                "`sudo dnf install bubblewrap` (Fedora); or pass --no-sandbox (see the README)")
    try:
        done = subprocess.run([bwrap, "--unshare-all", "--cap-drop", "ALL", "--die-with-parent", "--new-session",
                               "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as err:
        return f"bubblewrap could not run: {err}"
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return (f"bubblewrap cannot make a sandbox here ({reason}); user namespaces may be disabled "
                "(sysctl kernel.unprivileged_userns_clone=1 or user.max_user_namespaces > 0)")
    return None


def _under(path: Path, folders) -> bool:
    return any(path == f or f in path.parents for f in folders)


def python_paths() -> list[Path]:
    """The folders this Python runs from: its prefixes (the virtual environment and the
    interpreter it was made from). Other import paths (the current folder, PYTHONPATH) are
    left out on purpose: the kernel needs the standard library, site-packages and cnnlab."""
    found = []
    for entry in [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                  os.path.dirname(os.path.realpath(sys.executable))]:
        path = Path(entry).resolve()
        if path.is_dir() and not _under(path, found):
            found = [f for f in found if not _under(f, [path])] + [path]
    return found


def package_path() -> Path | None:
    """The installed cnnlab package folder, when it lies outside :func:`python_paths` (an
    editable install): bound alone, never the repository around it."""
    import cnnlab

    path = Path(cnnlab.__file__).resolve().parent
    return None if _under(path, python_paths()) else path


def command(folders: Folders, inner: list[str], *, env: dict[str, str], readonly: list[Path],
            data: Path | None = None) -> list[str]:
    """The bwrap command line that runs ``inner`` sandboxed, with ``env`` as its environment.

    ``readonly``: further host folders to see, read-only, at the same path (the Python, the
    installed cnnlab). ``data``: the course's data folder, read-only at its own path and as
    ``data/`` in the working folder.
    """
    args = ["bwrap", "--unshare-all", "--cap-drop", "ALL", "--die-with-parent", "--new-session",
            "--hostname", "cnnlab", "--ro-bind", "/usr", "/usr"]
    for name in _SYSTEM:
        path = Path(name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            args += ["--ro-bind", name, name]
    for name in _ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    # The scratch folder goes on /tmp before the read-only binds: a course or a Python that
    # lives under the host's /tmp (a CI clone, a throwaway venv) is then mounted on top of it,
    # not hidden below it.
    args += ["--proc", "/proc", "--dev", "/dev", "--bind", str(folders.home), str(HOME)]
    for path in readonly:
        args += ["--ro-bind", str(path), str(path)]
    args += ["--bind", str(folders.ipc), str(INSIDE / "ipc"),
             "--ro-bind", str(folders.inbox), str(INSIDE / "in"),
             "--bind", str(folders.outbox), str(INSIDE / "out")]
    if data is not None:
        args += ["--ro-bind", str(data), str(data), "--ro-bind", str(data), str(HOME / "data")]
    args += ["--chdir", str(HOME), "--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    return args + ["--", *inner]

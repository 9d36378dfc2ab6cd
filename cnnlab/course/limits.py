"""What one submission's kernel may use: processes and memory, bounded as a group.

A kernel's address space is capped per process (``RLIMIT_AS``, set when it starts), but a
submission that forks could multiply it, and a fork bomb could starve its classmates. Where the
system allows it, each kernel therefore runs in a control group of its own with a cap on the
number of processes and threads (``pids``) and on their memory together (``memory``):

* cgroup v1 (a ``pids`` and a ``memory`` hierarchy, as on this project's CI machines): a child
  group of the grader's own group in each, when the grader may write there (root);
* cgroup v2: a child of the grader's own group, when that group delegates the ``pids`` (and
  ``memory``) controller to it (e.g. a systemd user scope with delegation, or root).

Elsewhere :func:`create` returns None and the kernel falls back to ``RLIMIT_NPROC``, which
Linux enforces per user namespace and user for anyone but root (see
:mod:`cnnlab.course.sandbox`). ``cnnlab grade`` records which cap applied in ``run.json``.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from pathlib import Path

__all__ = ["Cgroup", "create"]

_ROOT = Path("/sys/fs/cgroup")


def _own_paths() -> dict[str, str]:
    """``{controller: path}`` of this process's groups (``""`` for the cgroup v2 group)."""
    paths = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return paths
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            paths[name] = path
    return paths


class Cgroup:
    """The control groups of one kernel: ``wrap`` its command, ``kill`` what is left, ``remove``."""

    def __init__(self, folders: list[Path], description: str):
        self.folders, self.description = folders, description

    def wrap(self, argv: list[str]) -> list[str]:
        """``argv`` started inside the groups (the shell joins them, then becomes ``argv``), so
        that not even the first fork happens outside."""
        joins = " && ".join(f"echo $$ > {f / 'cgroup.procs'}" for f in self.folders)
        return ["/bin/sh", "-c", f'{joins} && exec "$@"', "cnnlab-kernel", *argv]

    def pids(self) -> list[int]:
        found = set()
        for folder in self.folders:
            try:
                found.update(int(p) for p in (folder / "cgroup.procs").read_text().split())
            except (OSError, ValueError):
                pass
        return sorted(found)

    def kill(self, wait: float = 10.0) -> bool:
        """SIGKILL everything in the groups; True once they are empty (within ``wait`` s)."""
        deadline = time.monotonic() + wait
        while True:
            left = self.pids()
            if not left:
                return True
            if time.monotonic() > deadline:
                return False
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)

    def remove(self) -> None:
        self.kill()
        for folder in self.folders:
            try:
                folder.rmdir()
            except OSError:
                pass


def _v1(name: str, own: dict[str, str], settings: dict[str, str]) -> Path | None:
    base = _ROOT / name
    if name not in own or not (base / "cgroup.procs").exists():
        return None
    folder = base / own[name].lstrip("/") / f"cnnlab-{secrets.token_hex(6)}"
    try:
        folder.mkdir()
        for key, value in settings.items():
            (folder / key).write_text(value)
    except OSError:
        try:
            folder.rmdir()
        except OSError:
            pass
        return None
    return folder


def create(pids: int, memory_mb: int) -> Cgroup | None:
    """Control groups capping processes at ``pids`` and memory at ``memory_mb`` MiB (0: no
    memory cap), or None where the system does not let this process make them."""
    own = _own_paths()
    v2 = _ROOT / own.get("", "/").lstrip("/")
    if "" in own and len(own) == 1 and (v2 / "cgroup.subtree_control").exists():
        delegated = (v2 / "cgroup.subtree_control").read_text().split()
        if "pids" in delegated:
            settings = {"pids.max": str(pids)}
            if memory_mb and "memory" in delegated:
                settings["memory.max"] = str(memory_mb * 2**20)
            folder = v2 / f"cnnlab-{secrets.token_hex(6)}"
            try:
                folder.mkdir()
                for key, value in settings.items():
                    (folder / key).write_text(value)
            except OSError:
                return None
            return Cgroup([folder], "cgroup v2: " + ", ".join(f"{k}={v}" for k, v in settings.items()))
    folder = _v1("pids", own, {"pids.max": str(pids)})
    if folder is None:
        return None
    folders, described = [folder], [f"pids.max={pids}"]
    if memory_mb:
        memory = _v1("memory", own, {"memory.limit_in_bytes": str(memory_mb * 2**20)})
        if memory is not None:
            folders.append(memory)
            described.append(f"memory.limit_in_bytes={memory_mb} MiB")
    return Cgroup(folders, "cgroup v1: " + ", ".join(described))

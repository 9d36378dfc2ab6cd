"""Running notebook code in fresh Jupyter kernels.

Two uses:

* :func:`execute_notebook` runs a whole notebook and stores its outputs (nbclient; ``cnnlab
  build --execute`` refreshes the solution notebooks with it);
* :class:`Kernel` runs cells one at a time and survives their failures -- an exception, a cell
  that runs past the timeout, a kernel that exits -- reporting each as a :class:`CellResult`
  judged by the kernel's ``execute_reply``, not by what it printed (``cnnlab grade`` and the
  student-notebook tests use it). It talks to the kernel over Unix sockets (ZMQ's ``ipc``
  transport), so a kernel without a network can be reached; with a :class:`Launch` it starts
  the kernel sandboxed (:mod:`.sandbox`) and bounded (:mod:`.limits`), and on closing makes
  sure that every process the kernel started is gone.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import zmq
from jupyter_client import KernelManager
from nbclient import NotebookClient

from . import limits, sandbox

KERNEL_NAME = "python3"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_STREAM_CAP = 20_000  # characters of stdout/stderr kept per cell (a flood must not fill memory)
_MAX_MESSAGE = 64 * 2**20  # bytes: a kernel sending a larger message is disconnected, not read


def strip_ansi(text: str) -> str:
    """``text`` without terminal colour codes (IPython colours exception names)."""
    return _ANSI.sub("", text)


def kernel_env(root, *, fast: bool | None = None, threads: int | None = None) -> dict:
    """The environment of a kernel that runs course notebooks from ``root``.

    Deterministic hashing, figures captured inline (even where ``MPLBACKEND=Agg`` is set for
    scripts), ``root`` first on ``PYTHONPATH`` (its own ``cnnlab``) and ``CNNLAB_DATA`` at its
    ``data/``. ``fast``: True sets ``CNNLAB_FAST=1``, False removes it, None keeps the caller's.
    ``threads``: cap BLAS/OpenMP threads (graders run several kernels at once).
    """
    root = Path(root).resolve()
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    env["PYTHONPATH"] = os.pathsep.join([str(root), *filter(None, [env.get("PYTHONPATH")])])
    if (root / "data").is_dir():
        env["CNNLAB_DATA"] = str(root / "data")
    if fast is True:
        env["CNNLAB_FAST"] = "1"
    elif fast is False:
        env.pop("CNNLAB_FAST", None)
    if threads is not None:
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(threads)
    return env


def execute_notebook(nb: nbformat.NotebookNode, cwd, env: dict, timeout: int | None = None):
    """Run every cell of ``nb`` in a fresh kernel, storing the outputs in ``nb`` (returned).

    Raises:
        CellExecutionError: a cell raised (the message names the cell and the error).
        CellTimeoutError, DeadKernelError: as nbclient raises them.
    """
    client = NotebookClient(nb, timeout=timeout, kernel_name=KERNEL_NAME, record_timing=False,
                            shutdown_kernel="immediate", resources={"metadata": {"path": str(cwd)}})
    client.execute(cwd=str(cwd), env=env)
    return nb


@dataclass
class CellResult:
    """What running one cell did.

    status: ``"ok"``, ``"error"`` (the kernel's ``execute_reply`` said so: ``ename``/``evalue``),
    ``"timeout"`` or ``"dead"`` (the kernel exited or crashed). After ``"timeout"`` or ``"dead"``
    the kernel must be restarted before it runs anything else.
    """

    status: str
    ename: str = ""
    evalue: str = ""
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


# Sets the per-process limits, then becomes the kernel: python -c LAUNCHER MEMORY_MB NPROC -f FILE
LAUNCHER = """\
import os, resource, sys
memory, nproc = int(sys.argv[1]), int(sys.argv[2])
if memory:
    resource.setrlimit(resource.RLIMIT_AS, (memory * 2**20, memory * 2**20))
if nproc and os.geteuid() != 0:  # Linux counts processes per user namespace and user; root is exempt
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *sys.argv[3:]])
"""


@dataclass
class Launch:
    """How a grading kernel starts: in its own :class:`~.sandbox.Folders` (HOME and working
    folder: ``folders.home``), with exactly the environment ``env``, sandboxed or not, its
    address space capped at ``memory_mb`` MiB per process and its processes (and, where
    control groups allow, their memory together) at ``pids``. ``data``: the course's data,
    read-only. ``limits`` says which process cap applied (set on start)."""

    folders: sandbox.Folders
    env: dict
    sandboxed: bool = True
    memory_mb: int = 0
    pids: int = 0
    data: Path | None = None
    limits: str = field(default="", init=False)


class _Manager(KernelManager):
    """A KernelManager whose kernel command comes from :meth:`Kernel._command`."""

    command_for = None  # set per instance: connection file -> argv

    def format_kernel_cmd(self, extra_arguments=None):
        return self.command_for(self.connection_file)


class Kernel:
    """A fresh kernel that runs code cells one at a time.

    ::

        with Kernel(cwd, env, timeout=30) as kernel:
            result = kernel.run("1 / 0")      # CellResult(status="error", ename="ZeroDivisionError", ...)
            if result.status in ("timeout", "dead"):
                kernel.restart()

    ``timeout`` is per cell, in seconds (None: no limit). With ``launch`` the kernel runs in
    ``launch.folders.home`` with ``launch.env`` (``cwd`` and ``env`` are ignored).
    """

    def __init__(self, cwd=None, env: dict | None = None, timeout: float | None = None,
                 startup_timeout: int = 60, launch: Launch | None = None):
        self.cwd, self.env, self.timeout = str(cwd or "."), env, timeout
        self.startup_timeout, self.launch = startup_timeout, launch
        self._km = self._client = self._cgroup = None
        self._ipc: Path | None = None

    # --- starting and stopping ------------------------------------------------------------

    def start(self) -> None:
        launch = self.launch
        if launch is not None:
            self._ipc = launch.folders.ipc
            if launch.sandboxed and launch.pids:
                self._cgroup = limits.create(launch.pids, launch.memory_mb)
            launch.limits = (self._cgroup.description if self._cgroup else
                             f"RLIMIT_NPROC={launch.pids}" if launch.pids and os.geteuid() != 0 else "none")
        else:
            self._ipc = Path(tempfile.mkdtemp(prefix="cnnlab-ipc-"))
        # Our own ZMQ context: its sockets refuse messages above _MAX_MESSAGE, so a kernel
        # cannot make the grader hold a gigabyte-long error message or output in memory.
        self._context = zmq.Context()
        self._context.setsockopt(zmq.MAXMSGSIZE, _MAX_MESSAGE)
        km = _Manager(transport="ipc", ip=str(self._ipc / "k"), connection_file=str(self._ipc / "host.json"),
                      kernel_name=KERNEL_NAME, context=self._context)
        km.command_for = self._command
        km.autorestart = False
        if launch is None:
            cwd, env = self.cwd, self.env or dict(os.environ)
        else:
            cwd, env = str(launch.folders.home), ({"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
                                                  if launch.sandboxed else dict(launch.env))
        # The kernel's own stdout/stderr (not the cells': those come as messages) only carry
        # its start-up chatter; a grader running dozens of kernels keeps its output readable.
        km.start_kernel(cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._km = km
        client = km.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=self.startup_timeout)
        except RuntimeError:
            self._client = client
            self.close()
            raise
        self._client = client

    def _command(self, connection_file: str) -> list[str]:
        launch = self.launch
        if launch is None:
            return [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file]
        inner = [sys.executable, "-c", LAUNCHER, str(launch.memory_mb), str(launch.pids)]
        if not launch.sandboxed:
            return inner + ["-f", connection_file]
        # The kernel sees its folders elsewhere (under sandbox.INSIDE): its own connection file.
        info = json.loads(Path(connection_file).read_text())
        info["ip"] = str(sandbox.INSIDE / "ipc" / "k")
        inside = self._ipc / "kernel.json"
        inside.write_text(json.dumps(info))
        readonly = sandbox.python_paths() + [p for p in [sandbox.package_path()] if p is not None]
        argv = sandbox.command(launch.folders, inner + ["-f", str(sandbox.INSIDE / "ipc" / inside.name)],
                               env=launch.env, readonly=readonly, data=launch.data)
        return self._cgroup.wrap(argv) if self._cgroup is not None else argv

    def close(self) -> None:
        """Stop the kernel and everything it started (waits until they are gone)."""
        client, km, self._client, self._km = self._client, self._km, None, None
        if client is not None:
            client.stop_channels()
        if km is not None:
            process = getattr(km.provisioner, "process", None) if km.provisioner else None
            if process is not None and self.launch is not None and self.launch.sandboxed:
                # Kill the sandbox's first process: Linux then kills every process of its PID
                # namespace before bwrap can reap it, so bwrap's exit means they are all gone.
                for child in _children(process.pid):
                    _kill(child)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
            try:
                km.shutdown_kernel(now=True)
            except Exception:  # already dead, or its channels already closed: nothing to free
                pass
        if self._cgroup is not None:
            self._cgroup.remove()
            self._cgroup = None
        if getattr(self, "_context", None) is not None:
            self._context.destroy(linger=0)
            self._context = None
        if self.launch is None and self._ipc is not None:
            shutil.rmtree(self._ipc, ignore_errors=True)
        self._ipc = None

    def restart(self) -> None:
        """A new kernel in place of this one (everything defined so far is lost)."""
        self.close()
        self.start()

    def __enter__(self) -> "Kernel":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- running cells ----------------------------------------------------------------------

    def run(self, source: str, timeout: float | None = None) -> CellResult:
        """Run ``source`` as one code cell and report what happened (``timeout``: this cell's
        limit in seconds instead of the kernel's)."""
        if self._client is None:
            raise RuntimeError("the kernel is not running: call start() or restart() first")
        limit = self.timeout if timeout is None else timeout
        deadline = None if limit is None else time.monotonic() + limit
        client, streams = self._client, {}
        msg_id = client.execute(source, store_history=True, allow_stdin=False, stop_on_error=False)
        reply, idle = None, False
        while reply is None or not idle:
            if deadline is not None and time.monotonic() > deadline:
                return CellResult("timeout", "TimeoutError", f"the cell ran longer than {limit:g} s",
                                  *self._texts(streams))
            if not self._km.is_alive():
                return CellResult("dead", "DeadKernel", "the kernel died (exit, os._exit or a crash)",
                                  *self._texts(streams))
            try:
                msg = client.get_iopub_msg(timeout=0.05)
            except queue.Empty:
                msg = None
            if msg is not None and msg["parent_header"].get("msg_id") == msg_id:
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream":
                    name = content.get("name", "stdout")
                    kept = streams.get(name, "")
                    if len(kept) < _STREAM_CAP:
                        streams[name] = kept + str(content.get("text", ""))[: _STREAM_CAP - len(kept)]
                elif kind == "status" and content.get("execution_state") == "idle":
                    idle = True
            while reply is None:
                try:
                    answer = client.get_shell_msg(timeout=0)
                except queue.Empty:
                    break
                if answer["parent_header"].get("msg_id") == msg_id:
                    reply = answer["content"]
        if reply.get("status") == "ok":
            return CellResult("ok", "", "", *self._texts(streams))
        return CellResult("error", strip_ansi(str(reply.get("ename", "Error"))),
                          strip_ansi(str(reply.get("evalue", ""))), *self._texts(streams))

    @staticmethod
    def _texts(streams: dict) -> tuple[str, str]:
        return streams.get("stdout", ""), streams.get("stderr", "")


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    found = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass

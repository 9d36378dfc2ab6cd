"""Running notebook code in fresh Jupyter kernels (nbclient).

Two uses:

* :func:`execute_notebook` runs a whole notebook and stores its outputs (``cnnlab build
  --execute`` refreshes the solution notebooks with it);
* :class:`Kernel` runs cells one at a time and survives their failures -- an exception, a cell
  that runs past the timeout, a kernel that exits -- reporting each as a :class:`CellResult`
  (``cnnlab grade`` and the student-notebook tests use it).
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

KERNEL_NAME = "python3"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_STREAM_CAP = 20_000  # characters of stdout/stderr kept per cell (a flood must not fill memory)


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

    status: ``"ok"``, ``"error"`` (an exception: ``ename``/``evalue``), ``"timeout"`` or
    ``"dead"`` (the kernel exited or crashed). After ``"timeout"`` or ``"dead"`` the kernel must
    be restarted before it runs anything else.
    """

    status: str
    ename: str = ""
    evalue: str = ""
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class _Client(NotebookClient):
    """A NotebookClient that keeps only what grading needs of the outputs: errors, and the
    first characters of stdout and stderr (a cell printing without end cannot exhaust memory)."""

    def output(self, outs, msg, display_id, cell_index):
        kind, content = msg["msg_type"], msg["content"]
        if kind == "error":
            outs.append(nbformat.v4.new_output("error", ename=content.get("ename", ""),
                                               evalue=content.get("evalue", ""), traceback=[]))
        elif kind == "stream":
            name = content.get("name", "stdout")
            kept = self.streams.get(name, "")
            if len(kept) < _STREAM_CAP:
                self.streams[name] = kept + content.get("text", "")[: _STREAM_CAP - len(kept)]
        return None


class Kernel:
    """A fresh kernel that runs code cells one at a time.

    ::

        with Kernel(cwd, env, timeout=30) as kernel:
            result = kernel.run("1 / 0")      # CellResult(status="error", ename="ZeroDivisionError", ...)
            if result.status in ("timeout", "dead"):
                kernel.restart()

    ``timeout`` is per cell, in seconds (None: no limit).
    """

    def __init__(self, cwd, env: dict | None = None, timeout: float | None = None,
                 startup_timeout: int = 60):
        self.cwd, self.env, self.timeout = str(cwd), env, timeout
        self.startup_timeout = startup_timeout
        self._client: _Client | None = None

    def start(self) -> None:
        nb = nbformat.v4.new_notebook()
        client = _Client(nb, timeout=self.timeout, kernel_name=KERNEL_NAME, allow_errors=True,
                         record_timing=False, shutdown_kernel="immediate",
                         startup_timeout=self.startup_timeout,
                         resources={"metadata": {"path": self.cwd}})
        client.km = client.create_kernel_manager()
        # The kernel's own stdout/stderr (not the cells': those come as messages) only carry
        # its start-up chatter; a grader running dozens of kernels keeps its output readable.
        client.start_new_kernel(cwd=self.cwd, env=self.env or dict(os.environ),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client.start_new_kernel_client()
        self._client = client

    def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            try:
                client._cleanup_kernel()
            except Exception:  # already dead, or its channels already closed: nothing to free
                pass

    def restart(self) -> None:
        """A new kernel in place of this one (everything defined so far is lost)."""
        self.close()
        self.start()

    def __enter__(self) -> "Kernel":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def run(self, source: str, timeout: float | None = None) -> CellResult:
        """Run ``source`` as one code cell and report what happened (``timeout``: this cell's
        limit in seconds instead of the kernel's)."""
        if self._client is None:
            raise RuntimeError("the kernel is not running: call start() or restart() first")
        client = self._client
        cell = nbformat.v4.new_code_cell(source)
        client.nb.cells = [cell]
        client.streams = {}
        client.timeout = self.timeout if timeout is None else timeout
        try:
            client.execute_cell(cell, 0)
        except CellTimeoutError:
            return self._result("timeout", "TimeoutError", f"the cell ran longer than {client.timeout:g} s")
        except DeadKernelError:
            return self._result("dead", "DeadKernel", "the kernel died (exit, os._exit or a crash)")
        except CellExecutionError as err:  # not raised with allow_errors; kept as a safety net
            return self._result("error", getattr(err, "ename", "Error"), getattr(err, "evalue", str(err)))
        errors = [out for out in cell.outputs if out.get("output_type") == "error"]
        if errors:
            return self._result("error", errors[-1].get("ename", ""), errors[-1].get("evalue", ""))
        return self._result("ok")

    def _result(self, status: str, ename: str = "", evalue: str = "") -> CellResult:
        streams = self._client.streams if self._client is not None else {}
        return CellResult(status, strip_ansi(str(ename)), strip_ansi(str(evalue)),
                          streams.get("stdout", ""), streams.get("stderr", ""))

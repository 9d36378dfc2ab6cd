"""``cnnlab lab``: open the course in JupyterLab, in the student's own working folder.

What ``make lab`` runs in the repository, and what a student runs in a student bundle:

1. bring the working folder (``work/`` in the course folder unless ``--dir``) up to date
   with the release in ``notebooks/`` (:func:`cnnlab.course.workdir.update`: new lessons
   copied in, updated ones beside the student's copy, a ``data`` link; nothing overwritten);
2. start JupyterLab rooted there, from this Python (so kernels import this cnnlab), with

   * ``--allow-root`` when running as root, as in most containers and hub images (JupyterLab
     refuses to start as root without it);
   * ``--no-browser`` where there is no display, and the address to open printed with its
     token (otherwise a browser opens by itself on that address);
   * a BLAS thread count for the kernels (:func:`blas_threads`) unless one is set already.

On POSIX the command replaces this process (``exec``): its process id is JupyterLab's, and
stopping it (Ctrl+C, or a signal to that id) stops JupyterLab.
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
from pathlib import Path

from . import workdir
from .lessons import SOURCES, STUDENT, CourseError

WORKDIR = "work"
DEFAULT_PORT = 8888
FIRST_LESSON = "00_start_here.ipynb"
BLAS_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def blas_threads(cores: int | None = None) -> int:
    """BLAS threads per kernel: half the cores this process may use, at least 1, at most 4.

    The lessons multiply small matrices, where extra threads mostly wait for each other; and a
    kernel shares the machine with JupyterLab, the browser and other kernels. On a busy 2-core
    machine one thread ran lesson 11's training cell in 3 s, the default (one per core) in 49 s.
    """
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(4, cores // 2))


def has_display(env=os.environ, platform: str = sys.platform) -> bool:
    """Whether a browser can open here: always on Windows and macOS, else with X11 or Wayland."""
    if platform.startswith(("win", "cygwin", "darwin")):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def free_port(start: int = DEFAULT_PORT, tries: int = 50) -> int:
    """The first port from ``start`` on which nothing listens on this machine's loopback."""
    for port in range(start, start + tries):
        try:
            with socket.socket(socket.AF_INET) as s:
                s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise CourseError(f"--port {start}: no free port between {start} and {start + tries - 1}")


def environment(env=os.environ, cores: int | None = None) -> dict:
    """JupyterLab's environment (its kernels inherit it): ``env`` plus a BLAS thread count in
    each of :data:`BLAS_VARIABLES` that is not set already."""
    env = dict(env)
    threads = str(blas_threads(cores))
    for name in BLAS_VARIABLES:
        env.setdefault(name, threads)
    return env


def command(folder: Path, port: int, *, root_user: bool, browser: bool, open_file: str | None) -> list[str]:
    """The JupyterLab command line: rooted at ``folder``, on ``port`` (and only that port, so
    the printed address is right), opening ``open_file`` (relative to ``folder``) if given."""
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={folder}",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0"]
    if root_user:
        cmd.append("--allow-root")
    if not browser:
        cmd.append("--no-browser")
    if open_file:
        cmd.append(str(folder / open_file))
    return cmd


def address(port: int, token: str, open_file: str | None) -> str:
    path = f"lab/tree/{open_file}" if open_file else "lab"
    return f"http://localhost:{port}/{path}?token={token}"


def working_folder(root: Path, chosen=None) -> Path:
    """The working folder: ``chosen`` (from ``--dir``), else ``work/`` in the course folder.

    Raises:
        CourseError: ``chosen`` is the course folder itself or lies in ``notebooks/`` or
            ``solutions/``, which belong to the course (build rewrites ``notebooks/``).
    """
    folder = Path(chosen).expanduser().resolve() if chosen else root / WORKDIR
    owned = [root / STUDENT, root / SOURCES]
    if folder == root or any(folder.is_relative_to(p) for p in owned):
        raise CourseError(f"--dir {chosen}: that folder belongs to the course (cnnlab build rewrites "
                          f"{STUDENT}/); choose a folder of your own, such as {root / WORKDIR}")
    return folder


def start(root: Path, chosen_dir=None, port: int = DEFAULT_PORT) -> int:
    """Update the working folder and run JupyterLab there (see the module docstring)."""
    from .. import data  # numpy: only now

    release = root / STUDENT
    if not any(release.glob("*.ipynb")):
        raise CourseError(f"no lessons in {release}: run `cnnlab lab` in the course repository or "
                          "in a student bundle (the folder holding notebooks/), or pass --root")
    folder = working_folder(root, chosen_dir)
    first_start = not folder.exists()
    report = workdir.update(folder, release, data.data_dir())
    open_file = FIRST_LESSON if first_start and (folder / FIRST_LESSON).is_file() else None
    env = environment()
    browser = has_display(env)
    token = env.setdefault("JUPYTER_TOKEN", secrets.token_hex(24))
    port = free_port(port)
    cmd = command(folder, port, root_user=hasattr(os, "geteuid") and os.geteuid() == 0,
                  browser=browser, open_file=open_file)

    print(f"cnnlab lab: your working folder is {folder}: your own copies of the lessons, which "
          "cnnlab never overwrites.")
    for line in report.lines():
        print(f"  {line}")
    print(f"Kernels use {env['OPENBLAS_NUM_THREADS']} BLAS thread(s) (set OPENBLAS_NUM_THREADS to change it).")
    url = address(port, token, open_file)
    if browser:
        print(f"JupyterLab opens in your browser at {url}")
    else:
        print("No display here, so no browser opens. When JupyterLab is up, open this address in a "
              f"browser on this machine:\n\n    {url}\n")
    print("Stop JupyterLab with Ctrl+C in this terminal.", flush=True)
    if os.name == "posix":
        os.chdir(folder)
        os.execve(sys.executable, cmd, env)  # does not return
    import subprocess

    return subprocess.run(cmd, env=env, cwd=folder).returncode

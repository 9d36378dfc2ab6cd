"""Fresh virtual environments for the tests that install cnnlab (and nbgrader) as users do.

A venv is made without pip (``python -m venv --without-pip``) and filled by this
environment's pip (``pip --python VENV/bin/python install``) without byte-compiling the
packages: the same packages land in it, about four times faster. Every venv uses pip's own
cache, one for all of them, so each package is downloaded at most once. Set
``CNNLAB_TEST_PYTHON`` to an interpreter (``/usr/bin/python3.12``) to build the venvs on it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PYTHON = os.environ.get("CNNLAB_TEST_PYTHON") or sys.executable
# Nothing from this environment may leak into the venv's (no PYTHONPATH, no data folder), and
# no display: the programs run headless, as on a server.
_LEAKS = ("PYTHONPATH", "CNNLAB_DATA", "VIRTUAL_ENV", "JUPYTER_PATH", "JUPYTER_TOKEN", "DISPLAY", "WAYLAND_DISPLAY")


def run(args, **kw) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=kw.pop("timeout", 900), **kw)
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def make(path: Path, *requirements) -> Path:
    """A new venv at ``path`` holding ``requirements`` (pip arguments); its ``bin`` folder."""
    run([PYTHON, "-m", "venv", "--without-pip", path])
    python = path / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-compile", *requirements])
    return path / "bin"


def wheel(project: Path, out: Path) -> Path:
    """The wheel of the project at ``project`` (built with this environment's setuptools)."""
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", out, project])
    return next(out.glob("cnnlab-*.whl"))


def clean_env(bin_dir: Path, home: Path) -> dict:
    """An environment that runs ``bin_dir``'s programs as an activated venv would, headless,
    with Jupyter's configuration, data and runtime files in ``home`` (so no kernel or setting
    of this machine is found)."""
    env = {k: v for k, v in os.environ.items() if k not in _LEAKS}
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
    for name, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                      ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython"),
                      ("JUPYTERLAB_SETTINGS_DIR", "settings"), ("JUPYTERLAB_WORKSPACES_DIR", "workspaces")):
        env[name] = str(home / sub)
    return env


# Run in the venv: execute each notebook given, from the current folder, and add a last cell
# that reports which cnnlab the kernel imported and which data folder it read.
_RUNNER = """
import json, sys
import nbclient, nbformat
where = "import cnnlab, cnnlab.data, json; print(json.dumps([cnnlab.__file__, str(cnnlab.data.data_dir())]))"
for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(where))
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": "."}}).execute()
    print(nb.cells[-1].outputs[0]["text"].strip())
"""


def run_notebooks(bin_dir: Path, folder: Path, notebooks, env: dict) -> list[tuple[str, str]]:
    """Run ``notebooks`` (names in ``folder``) with the venv's Python from ``folder``; for each,
    the kernel's cnnlab package file and data folder. A failing cell fails the run."""
    done = run([bin_dir / "python", "-c", _RUNNER, *notebooks], cwd=folder, env=env)
    return [tuple(json.loads(line)) for line in done.stdout.splitlines() if line.startswith("[")]

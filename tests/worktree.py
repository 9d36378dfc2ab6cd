"""For tests that do what a person does with the course (start the lab, build, install)
without touching the repository itself: a copy of this working tree, and the address of a
``cnnlab lab`` started from it."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def copy_working_tree(dest: Path) -> Path:
    """Copy every file git would commit from here (tracked or new, not ignored) to ``dest``."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the work tree is not copied
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def wait_for_lab(log: Path, process, timeout: float = 90) -> tuple[str, str]:
    """The port and token of the address ``cnnlab lab`` printed into ``log``, once JupyterLab
    answers there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"cnnlab lab stopped:\n{log.read_text()[-3000:]}"
        found = re.search(r"http://localhost:(\d+)/lab\S*\?token=(\w+)", log.read_text())
        if found:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{found[1]}/api/status?token={found[2]}", timeout=10).close()
                return found[1], found[2]
            except OSError:
                pass
        time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer in {timeout} s:\n{log.read_text()[-3000:]}")

"""One install carries everything: cnnlab's wheel, from the repository or from a student
bundle, installed into a fresh venv with nothing but its declared dependencies, runs the
lessons from an empty folder, with the datasets from inside the package.

Built on a copy of this working tree (the repository is never built in). The venvs cost
most of the time here; see ``venvs.py`` for how they are kept cheap.
"""

import shutil
import signal
import subprocess
import time
import tomllib
import zipfile
from pathlib import Path

import pytest
import venvs
from worktree import copy_working_tree, wait_for_lab

from cnnlab.cli import main
from cnnlab.data import _REGISTRY

ROOT = Path(__file__).resolve().parents[1]
LESSONS = ["00_start_here.ipynb", "12_training_a_cnn.ipynb"]


def test_every_subpackage_is_packaged():
    """pyproject.toml lists the packages by hand (see its comment): none may be missing."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "cnnlab").rglob("__init__.py")}
    assert found | {"cnnlab._data"} == listed


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    return copy_working_tree(tmp_path_factory.mktemp("install") / "course")


@pytest.fixture(scope="module")
def wheel(course, tmp_path_factory) -> Path:
    return venvs.wheel(course, tmp_path_factory.mktemp("dist"))


def run_lessons(bin_dir: Path, tmp: Path):
    """Lessons 00 and 12 (fast mode) from an empty folder: the kernel's cnnlab and data folder."""
    folder = tmp / "empty"
    folder.mkdir()
    for name in LESSONS:
        shutil.copy(ROOT / "solutions" / name, folder / name)
    env = dict(venvs.clean_env(bin_dir, tmp / "jupyter"), CNNLAB_FAST="1")
    return venvs.run_notebooks(bin_dir, folder, LESSONS, env)


def assert_installed_package_and_data(where, bin_dir: Path):
    site = next((bin_dir.parent / "lib").glob("python3*/site-packages"))
    for package, data in where:
        assert Path(package) == site / "cnnlab" / "__init__.py"
        assert Path(data) == site / "cnnlab" / "_data"


def test_the_wheel_carries_the_datasets_and_the_bundle_pyproject(wheel):
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        assert {f"cnnlab/_data/{d.file}" for d in _REGISTRY.values()} | {"cnnlab/_data/README.md"} <= names
        assert "cnnlab/course/student_pyproject.toml" in names
        assert (whl.read("cnnlab/_data/mnist5k.npz") == (ROOT / "data" / "mnist5k.npz").read_bytes())
    assert not any(n.endswith(".ipynb") or n.startswith(("solutions/", "tests/")) for n in names)


@pytest.mark.slow
@pytest.mark.venv
def test_the_wheel_in_a_fresh_venv_runs_lessons_from_an_empty_folder(wheel, course, tmp_path):
    started = time.monotonic()
    bin_dir = venvs.make(tmp_path / "venv", wheel)
    made = time.monotonic() - started
    where = run_lessons(bin_dir, tmp_path)
    assert len(where) == len(LESSONS)
    assert_installed_package_and_data(where, bin_dir)
    # Every module imports with the declared dependencies alone, and they are consistent.
    env = venvs.clean_env(bin_dir, tmp_path / "jupyter")
    modules = sorted(".".join(p.with_suffix("").relative_to(ROOT).parts).removesuffix(".__init__")
                     for p in (ROOT / "cnnlab").rglob("*.py"))
    venvs.run([bin_dir / "python", "-c", f"import importlib; [importlib.import_module(m) for m in {modules!r}]"],
              cwd=tmp_path, env=env)
    venvs.run([venvs.sys.executable, "-m", "pip", "--python", bin_dir / "python", "check"], env=env)
    print(f"wheel venv made in {made:.0f} s, lessons run in {time.monotonic() - started - made:.0f} s")


@pytest.fixture(scope="module")
def bundle(course, tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("bundle") / "cnnlab-course"
    assert main(["build", "--root", str(course), "--student", str(dest)]) == 0
    return dest


@pytest.mark.slow
@pytest.mark.venv
def test_the_bundle_installs_with_its_data_and_offers_cnnlab_lab(bundle, tmp_path):
    started = time.monotonic()
    bin_dir = venvs.make(tmp_path / "venv", bundle)  # `pip install .` in the bundle, not editable
    made = time.monotonic() - started
    where = run_lessons(bin_dir, tmp_path)
    assert len(where) == len(LESSONS)
    assert_installed_package_and_data(where, bin_dir)

    env = venvs.clean_env(bin_dir, tmp_path / "jupyter")
    log = tmp_path / "lab.log"
    with open(log, "w") as out:  # as the bundle's README says: `cnnlab lab` in the bundle
        process = subprocess.Popen([bin_dir / "cnnlab", "lab", "--port", "23888"], cwd=bundle, env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_lab(log, process)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    work = bundle / "work"
    lessons = sorted(p.name for p in (bundle / "notebooks").glob("*.ipynb"))
    assert sorted(p.name for p in work.glob("*.ipynb")) == lessons
    site = next((bin_dir.parent / "lib").glob("python3*/site-packages"))
    assert (work / "data").resolve() == site / "cnnlab" / "_data"
    print(f"bundle venv made in {made:.0f} s, lessons and lab in {time.monotonic() - started - made:.0f} s")

"""``cnnlab build --student DIR``: the student bundle holds no solution and is installable."""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from fixtures import coursekit as kit

from cnnlab.cli import main
from cnnlab.course import bundle, leaks
from cnnlab.course import notebook as nbk

HIDDEN = "assert scale_images(np.zeros((2, 1, 2, 2), dtype=np.uint8)).sum() == 0.0"  # the fixture's


@pytest.fixture
def course(tmp_path):
    return kit.make_course(tmp_path)


@pytest.fixture
def made(course, tmp_path, capsys):
    dest = tmp_path / "release"
    assert main(["build", "--root", str(course), "--student", str(dest)]) == 0
    assert capsys.readouterr().out.endswith(f"wrote the student bundle of 1 lesson(s) to {dest}\n")
    return dest


def all_files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_bundle_layout(made, course):
    files = all_files(made)
    assert f"notebooks/{kit.LESSON}.ipynb" in files and "data/numbers.txt" in files
    assert {"pyproject.toml", "README.md", "LICENSE", "cnnlab/__init__.py", "cnnlab/grading/core.py",
            bundle.MARK} <= set(files)
    assert not any(f.startswith(("solutions", "tests")) or "__pycache__" in f for f in files)
    assert [f for f in files if f.endswith(".ipynb")] == [f"notebooks/{kit.LESSON}.ipynb"]
    assert (made / "notebooks" / f"{kit.LESSON}.ipynb").read_bytes() == (course / kit.STUDENT).read_bytes()


def test_bundle_has_no_solution_or_hidden_text(made, course):
    found = leaks.secrets(nbk.read(course / kit.SOURCE))
    assert found.solution and found.hidden
    for name in all_files(made):
        try:
            text = (made / name).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        lines = {line.strip() for line in text.splitlines()}
        assert not lines & (found.solution | found.hidden), name
    assert bundle.check_bundle(made, course) == []


def test_bundle_pyproject_is_the_course_one_without_tests(made):
    """The bundle's pyproject.toml is a static file (nothing generates TOML, so nothing needs a
    TOML writer or tomli): it must say what the course's says, less the test extras and settings."""
    data = tomllib.loads((made / "pyproject.toml").read_text())
    repo = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
    for extra in ("test", "dev"):
        del repo["project"]["optional-dependencies"][extra]
    del repo["tool"]["pytest"]
    assert data == repo
    assert data["project"]["readme"] == "README.md" and (made / "README.md").is_file()
    assert set(data["project"]["optional-dependencies"]) == {"gpu", "gpu-cuda13"}


def test_cnnlab_imports_from_the_bundle_folder(made):
    done = subprocess.run([sys.executable, "-c", "import cnnlab, cnnlab.data; print(cnnlab.__file__); "
                                                 "print(cnnlab.data.data_dir())"],
                          cwd=made, capture_output=True, text=True, timeout=60,
                          env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CNNLAB_DATA")})
    assert done.returncode == 0, done.stderr
    package, data = done.stdout.split()
    assert Path(package) == made / "cnnlab" / "__init__.py"
    assert Path(data) == made / "data"


def test_rebuilding_replaces_an_earlier_bundle(made, course, capsys):
    (made / "notebooks" / "stale.ipynb").write_text("{}")
    assert main(["build", "--root", str(course), "--student", str(made)]) == 0
    assert not (made / "notebooks" / "stale.ipynb").exists()


def test_refuses_to_replace_a_bundle_holding_a_students_work(made, course, capsys):
    (made / "work").mkdir()
    (made / "work" / "00_start_here.ipynb").write_text("my work")
    assert main(["build", "--root", str(course), "--student", str(made)]) == 2
    assert "holds a student's work in work/ (made by `cnnlab lab`)" in capsys.readouterr().err
    assert (made / "work" / "00_start_here.ipynb").read_text() == "my work"


def test_refuses_a_folder_that_is_not_a_bundle(course, tmp_path, capsys):
    work = tmp_path / "my_work"
    work.mkdir()
    (work / "homework.ipynb").write_text("{}")
    assert main(["build", "--root", str(course), "--student", str(work)]) == 2
    assert "exists and is not a student bundle" in capsys.readouterr().err
    assert (work / "homework.ipynb").read_text() == "{}"


def test_check_finds_every_kind_of_leak(made, course):
    source = nbk.read(course / kit.SOURCE)
    student = made / "notebooks" / f"{kit.LESSON}.ipynb"
    nb = kit.load(student)
    kit.cell(nb, "scale_images_solution")["source"] = "def scale_images(x):\n    scaled = x.astype(np.float32) / 255"
    kit.save(student, nb)
    (made / "cnnlab" / "extra.py").write_text(f"# {HIDDEN}\n")
    (made / "solutions").mkdir()
    (made / "solutions" / "x.txt").write_text("")
    kit.save(made / "data" / "copy.ipynb", kit.load(course / kit.SOURCE))
    problems = [str(p) for p in bundle.check_bundle(made, course)]
    assert problems == [
        f"cnnlab/extra.py: reveals a hidden test: line 1: hidden test text '# {HIDDEN[:45]}...'",
        "data/copy.ipynb: a notebook that is not a student notebook of the course",
        f"notebooks/{kit.LESSON}.ipynb: cell 4 (scale_images_solution): reveals the answer: line 2: "
        "solution text 'scaled = x.astype(np.float32) / 255'",
        "solutions: a solutions folder must not be in a student bundle",
        "solutions/x.txt: a solutions folder must not be in a student bundle",
    ]
    assert source.cells  # the course itself is untouched


def test_cli_exits_nonzero_when_the_bundle_leaks(course, tmp_path, capsys, monkeypatch):
    fill = bundle._fill

    def leaky_fill(folder, root, lessons):
        fill(folder, root, lessons)
        (folder / "notes.txt").write_text(HIDDEN + "\n")

    monkeypatch.setattr(bundle, "_fill", leaky_fill)
    assert main(["build", "--root", str(course), "--student", str(tmp_path / "out")]) == 1
    captured = capsys.readouterr()
    assert "out/notes.txt: reveals a hidden test: line 1" in captured.out
    assert "reveals solutions (1 problem(s)); do not hand it out" in captured.err


@pytest.mark.slow
def test_bundle_is_pip_installable(made, tmp_path):
    target = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--target", str(target), str(made)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (target / "cnnlab" / "course" / "build.py").is_file()
    assert not list(target.glob("cnnlab/**/*.ipynb"))

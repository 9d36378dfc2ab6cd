"""The sandbox of a grading kernel: what a submission's code can see, change and start.

Each test starts a real kernel the way ``cnnlab grade`` does (bubblewrap, its own folders, a
cleared environment, limits) and runs attacks in it. Where bubblewrap cannot run, the tests
skip (CI sets ``CNNLAB_REQUIRE_SANDBOX=1``, which makes that a failure).
"""

import os
import shutil
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from fixtures import coursekit as kit

import cnnlab
from cnnlab.course import grade, sandbox
from cnnlab.course.kernel import Kernel, Launch

PACKAGE = Path(cnnlab.__file__).resolve().parent


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    kit.require_sandbox()
    monkeypatch.setenv("CNNLAB_CANARY", "grader-secret")  # must not reach the kernel
    data = tmp_path / "data"
    data.mkdir()
    (data / "numbers.txt").write_text("1 2 3\n")
    folders = sandbox.Folders.make(tmp_path)
    launch = Launch(folders, grade._kernel_env(str(sandbox.HOME), data, fast=True), memory_mb=2048, pids=64,
                    data=data)
    k = Kernel(timeout=30, launch=launch)
    k.start()
    k.tmp_path, k.folders = tmp_path, folders
    yield k
    k.close()
    folders.remove()


def run(k, code: str) -> str:
    result = k.run(textwrap.dedent(code))
    assert result.ok, (result.ename, result.evalue, result.stderr)
    return result.stdout.strip()


def test_no_capabilities_and_a_remount_of_a_read_only_bind_is_refused(kernel):
    assert run(kernel, "print(open('/proc/self/status').read().split('CapEff:')[1].split()[0])") == "0000000000000000"
    target = PACKAGE / "__init__.py"
    before = target.read_bytes()
    out = run(kernel, f"""
        import subprocess
        done = subprocess.run(["mount", "-o", "remount,bind,rw", {str(PACKAGE)!r}], capture_output=True, text=True)
        print(done.returncode != 0)
        try:
            open({str(target)!r}, "a").write("# pwned")
            print("written")
        except OSError as err:
            print(type(err).__name__, err.errno)
    """)
    assert out.splitlines() == ["True", "OSError 30"]  # EROFS: read-only file system
    assert target.read_bytes() == before


def test_only_its_own_folders_and_read_only_libraries_are_visible(kernel):
    course = kit.make_course(kernel.tmp_path, build=False)
    out = run(kernel, f"""
        import os
        def seen(path):
            return os.path.exists(path)
        home = {str(Path.home())!r}  # the grader's HOME: at most the folders leading to the Python
        print(seen({str(course / 'solutions')!r}), seen({str(kernel.tmp_path / 'out')!r}), seen('/etc/shadow'),
              sorted(os.listdir(home)) if seen(home) else [], seen(os.path.join(home, '.local', 'share', 'jupyter')),
              seen({str(PACKAGE.parent / 'solutions')!r}), seen({str(PACKAGE / 'grading' / 'core.py')!r}))
        print(os.getcwd(), os.environ['HOME'], sorted(os.listdir('/run/cnnlab')))
        print(open('data/numbers.txt').read().strip(), os.access(os.environ['CNNLAB_DATA'], os.W_OK))
        open('/tmp/scratch.txt', 'w').write('mine')
        print('CNNLAB_CANARY' in os.environ, sorted(os.environ)[:3])
    """)
    lines = out.splitlines()
    python_parts = {Path(p).relative_to(Path.home()).parts[0] for p in sandbox.python_paths()
                    if Path.home() in Path(p).parents}
    assert lines[0] == f"False False False {sorted(python_parts)} False False True"
    assert lines[1] == "/tmp /tmp ['in', 'ipc', 'out']"
    assert lines[2] == "1 2 3 False"
    assert lines[3].startswith("False")
    assert (kernel.folders.home / "scratch.txt").read_text() == "mine"  # /tmp is the private scratch folder
    assert not (Path("/tmp") / "scratch.txt").exists()


def test_the_grader_requests_are_read_only_inside(kernel):
    (kernel.folders.inbox / "request-1.npz").write_bytes(b"grader's")
    out = run(kernel, """
        try:
            open('/run/cnnlab/in/request-1.npz', 'wb').write(b'forged')
        except OSError as err:
            print(err.errno)
    """)
    assert out == "30" and (kernel.folders.inbox / "request-1.npz").read_bytes() == b"grader's"


def test_no_network(kernel):
    out = run(kernel, """
        import socket
        try:
            socket.create_connection(("127.0.0.1", 22), timeout=2)
            print("connected")
        except OSError as err:
            print(type(err).__name__)
        print(sorted(name for _, name in socket.if_nameindex()))
    """)
    assert out.splitlines() == ["ConnectionRefusedError", "['lo']"]


def test_it_sees_no_other_process_and_everything_it_started_dies_with_it(kernel, tmp_path):
    marker = "cnnlab-sandbox-test-" + str(os.getpid())
    out = run(kernel, f"""
        import os, subprocess, sys, time
        print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit())[:2])
        # a daemon in a session of its own, ignoring SIGTERM and SIGHUP
        subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                          "signal.signal(signal.SIGHUP, signal.SIG_IGN); time.sleep(600)", {marker!r}],
                         start_new_session=True)
        time.sleep(0.5)
    """)
    assert out == "[1, 2]"  # bwrap's init and the kernel: nothing of the host
    assert subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode == 0
    kernel.close()
    time.sleep(0.5)
    assert subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode == 1


def test_processes_are_capped(kernel):
    out = run(kernel, """
        import os, time
        children = []
        try:
            for _ in range(1000):
                pid = os.fork()
                if pid == 0:
                    time.sleep(60)
                    os._exit(0)
                children.append(pid)
        except OSError as err:
            print(len(children) < 64, err.errno)
        for pid in children:
            os.kill(pid, 9)
    """)
    assert out == "True 11"  # EAGAIN: the cap, not the machine, said no


def test_memory_is_capped_per_process(kernel):
    out = run(kernel, """
        try:
            hog = bytearray(3 * 2**30)
            print("allocated")
        except MemoryError:
            print("MemoryError")
    """)
    assert out == "MemoryError"


def test_probe_explains_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    sandbox.probe.cache_clear()
    try:
        assert "bubblewrap is not installed" in sandbox.probe()
    finally:
        sandbox.probe.cache_clear()


def test_a_huge_message_is_refused_and_the_grader_carries_on(kernel):
    result = kernel.run("import sys\nsys.stdout.write('x' * 100 * 2**20)\nsys.stdout.flush()", timeout=10)
    assert result.status in ("ok", "timeout") and len(result.stdout) <= 20_000
    kernel.restart()
    assert run(kernel, "print(6 * 7)") == "42"


def test_a_python_under_the_hosts_tmp_is_seen_above_the_scratch_tmp(tmp_path):
    """The kernel's /tmp is its scratch folder; a Python or cnnlab that lives under the host's
    /tmp (a CI clone, a throwaway venv) must still be visible there, mounted on top of it."""
    kit.require_sandbox()
    lib = Path(tempfile.mkdtemp(prefix="cnnlab-venv-", dir="/tmp"))
    try:
        (lib / "marker.txt").write_text("seen")
        folders = sandbox.Folders.make(tmp_path)
        command = sandbox.command(folders, ["/usr/bin/cat", str(lib / "marker.txt")], env={}, readonly=[lib])
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert (done.returncode, done.stdout) == (0, "seen"), done.stderr
        folders.remove()
    finally:
        shutil.rmtree(lib)

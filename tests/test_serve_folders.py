"""``sxzones serve``'s temporary folder (``sxzones-serve-<pid>-<random>``) goes with the
server: on Ctrl-C, on SIGTERM (also while the layers load), when the application's lifespan
ends; a server killed with SIGKILL leaves it, and the next server to start removes it, never
a running server's folder nor one named otherwise. Real servers, started as a user starts
them (``python -m sxzones.cli serve``), signalled as a shell or a service manager does."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("starlette")

from sxzones.options import ServeOptions
from sxzones.serve import create_app
from sxzones.serve.state import PREFIX, sweep_stale

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals and process ids")
TMP = Path(tempfile.gettempdir())
ROOT = Path(__file__).resolve().parents[1]
#: Where the servers' messages go (read when one does not start).
LOG = TMP / f"sxzones-test-serve-{os.getpid()}.log"


@pytest.fixture(autouse=True, scope="module")
def _no_log_left() -> Iterator[None]:
    yield
    LOG.unlink(missing_ok=True)


def _folders() -> set[Path]:
    return set(TMP.glob(f"{PREFIX}*"))


def _of(pid: int) -> list[Path]:
    """The temporary folders of the process ``pid``."""
    return sorted(TMP.glob(f"{PREFIX}{pid}-*"))


def _start(*extra: str) -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    with LOG.open("wb") as log:  # the child has its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "sxzones.cli", "--quiet", "serve", "--port", str(port),
             *extra],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=env,
            cwd=ROOT,
        )  # fmt: skip
    return proc, port


def _serving(proc: subprocess.Popen[bytes], port: int) -> None:
    """Wait until the server answers (its folder exists by then)."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert proc.poll() is None, LOG.read_text(errors="replace")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    proc.kill()
    pytest.fail("the server did not start")


@pytest.mark.parametrize(
    ("sig", "extra", "status"),
    [
        (signal.SIGTERM, ("--workers", "0"), -signal.SIGTERM),
        (signal.SIGINT, ("--workers", "2"), 0),  # forked workers too
    ],
)
def test_a_stopped_server_leaves_no_folder(sig: int, extra: tuple[str, ...], status: int) -> None:
    before = _folders()
    proc, port = _start(*extra)
    _serving(proc, port)
    assert len(_of(proc.pid)) == 1  # its folder, named after it
    assert len(_folders() - before) >= 1
    proc.send_signal(sig)
    assert proc.wait(timeout=60) in (status, 128 + sig)
    assert _of(proc.pid) == []
    assert not {f for f in _folders() - before if f.name.startswith(f"{PREFIX}{proc.pid}-")}


def test_sigterm_while_the_layers_load_leaves_no_folder() -> None:
    proc, _ = _start("--workers", "0")
    deadline = time.monotonic() + 180
    while not _of(proc.pid) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    assert _of(proc.pid), "the server made no folder"
    proc.send_signal(signal.SIGTERM)  # at once: the layers' frames are still being made
    assert proc.wait(timeout=60) in (-signal.SIGTERM, 128 + signal.SIGTERM)
    assert _of(proc.pid) == []


def test_a_killed_servers_folder_goes_when_the_next_one_starts() -> None:
    proc, port = _start("--workers", "0")
    _serving(proc, port)
    left = _of(proc.pid)
    proc.kill()  # SIGKILL: nothing of the server runs
    proc.wait(timeout=60)
    assert len(left) == 1 and left[0].is_dir()
    _, state = create_app(ServeOptions(workers=0))  # the next server
    try:
        assert not left[0].exists()
        assert state.root.name.startswith(f"{PREFIX}{os.getpid()}-")
    finally:
        state.close()
    assert not state.root.exists()


def test_sweep_keeps_running_servers_and_folders_it_cannot_tell(tmp_path: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "pass"], check=True)  # a finished process
    dead_pid = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_pid.wait()
    assert gone.returncode == 0
    dead = tmp_path / f"{PREFIX}{dead_pid.pid}-ab12_x9z"
    mine = tmp_path / f"{PREFIX}{os.getpid()}-cd34efgh"
    parent = tmp_path / f"{PREFIX}{os.getppid()}-ij56klmn"  # another running process
    legacy = tmp_path / f"{PREFIX}op78qrst"  # an earlier version's name: owner unknown
    for f in (dead, mine, parent, legacy):
        (f / "job").mkdir(parents=True)
    assert sweep_stale(tmp_path) == [dead]
    assert not dead.exists()
    assert mine.is_dir() and parent.is_dir() and legacy.is_dir()

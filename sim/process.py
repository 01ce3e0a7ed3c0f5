"""Run `canvass-sim camera` as a child process (for tests, benchmarks, the demo).

The camera can be stopped and restarted on the same port (a reboot) and
frozen with SIGSTOP (a hung camera whose TCP connection stays open).
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from sim.truth import CameraTruth, load_truths

STARTUP_TIMEOUT_S = 300  # the first start may encode the clips


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on `host:port`."""
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class CameraProcess:
    """Simulated cameras in a child process; `urls` and `truths` once started."""

    def __init__(
        self,
        *,
        count: int = 1,
        port: int | None = None,
        params_in_sdp: bool = False,
        cache_dir: Path | None = None,
        extra_args: list[str] | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.count = count
        self.port = port or free_port()
        self.params_in_sdp = params_in_sdp
        self.cache_dir = cache_dir
        self.extra_args = extra_args or []
        self.log_path = log_path
        self.urls: list[str] = []
        self.truths: list[CameraTruth] = []
        self.process: subprocess.Popen | None = None
        self._truth_file: Path | None = None

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "sim.cli", "camera", "--port", str(self.port), "--count", str(self.count)]
        if self.params_in_sdp:
            command.append("--params-in-sdp")
        if self.cache_dir is not None:
            command += ["--cache-dir", str(self.cache_dir)]
        if self._truth_file is not None:
            command += ["--truth-out", str(self._truth_file)]
        return command + self.extra_args

    def start(self, timeout: float = STARTUP_TIMEOUT_S) -> CameraProcess:
        import tempfile

        self._truth_file = Path(tempfile.mkstemp(prefix="canvass-sim-truth-", suffix=".json")[1])
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        # Unbuffered: a buffered reader could swallow both lines while select() waits on the fd.
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.PIPE, stderr=log, start_new_session=True, bufsize=0
        )
        if log is not subprocess.DEVNULL:
            log.close()
        self.urls = self._read_urls(timeout)
        self.truths = load_truths(self._truth_file.read_text())
        return self

    def _read_urls(self, timeout: float) -> list[str]:
        assert self.process is not None and self.process.stdout is not None
        urls: list[str] = []
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while len(urls) < self.count:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    self.kill()
                    raise TimeoutError(f"camera simulator did not start within {timeout} s")
                line = self.process.stdout.readline()
                if not line:
                    raise RuntimeError(f"camera simulator exited with {self.process.wait()}")
                urls.append(line.decode().strip())
        return urls

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM and wait (SIGKILL if it does not exit)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.thaw()
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def freeze(self) -> None:
        """SIGSTOP: the camera hangs with its connections open."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)

    def restart(self, timeout: float = STARTUP_TIMEOUT_S) -> CameraProcess:
        """Stop and start again on the same port, like a camera rebooting."""
        self.stop()
        return self.start(timeout)

    def close(self) -> None:
        self.stop()
        if self._truth_file is not None:
            self._truth_file.unlink(missing_ok=True)

    def __enter__(self) -> CameraProcess:
        return self if self.process is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

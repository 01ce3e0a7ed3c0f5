"""systemd integration over a real NOTIFY_SOCKET (no systemd needed)."""

import logging
import os
import socket
from pathlib import Path

import pytest

from edge.service import Notifier, setup_logging, under_systemd


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


def test_ready_status_watchdog_and_stopping_reach_the_socket(notify_socket):
    notifier = Notifier({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": str(os.getpid())})
    assert notifier.watchdog_interval_s == 10
    assert notifier.ready("4 cameras")
    assert notify_socket.recv(4096) == b"READY=1\nSTATUS=4 cameras"
    assert notifier.watchdog()
    assert notify_socket.recv(4096) == b"WATCHDOG=1"
    assert notifier.stopping()
    assert notify_socket.recv(4096) == b"STOPPING=1\nSTATUS=stopping"


def test_without_systemd_notify_is_a_harmless_no_op(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert Notifier({}).ready("x") is False
    assert Notifier({}).watchdog_interval_s is None


def test_watchdog_for_another_pid_is_ignored():
    assert Notifier({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}).watchdog_interval_s is None


def test_plain_logging_outside_the_journal():
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    try:
        assert not under_systemd({"JOURNAL_STREAM": "1:2"})
        setup_logging(level=logging.INFO)
        assert type(root.handlers[0]) is logging.StreamHandler
    finally:
        root.handlers[:] = saved
        root.setLevel(level)

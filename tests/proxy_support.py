"""A TCP proxy on loopback that can cut a connection part-way through, and notes the tus PATCHes it forwards."""

from __future__ import annotations

import re
import socket
import threading

from sim.process import free_port

_PATCH = re.compile(rb"PATCH [^ ]+ HTTP/1\.1\r\n(.*?)\r\n\r\n", re.S)
_HEADER = re.compile(rb"(?im)^(upload-offset|content-length): *(\d+)\r?$")


class CuttingProxy:
    """Forwards 127.0.0.1:`port` to `target_port`. While armed, the connection that carries the
    `cut_after`-th byte upstream is closed at that byte (both ways), once; `patches` lists (offset, length) of
    every PATCH forwarded after the cut."""

    def __init__(self, target_port: int, cut_after: int):
        self.target_port, self.cut_after = target_port, cut_after
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.armed, self.cut = True, threading.Event()
        self.upstream = 0
        self.patches: list[tuple[int, int]] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._threads: list[threading.Thread] = []
        self._closing = False

    def start(self) -> "CuttingProxy":
        self._spawn(self._accept)
        return self

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            self._spawn(self._pump, client, server, True)
            self._spawn(self._pump, server, client, False)

    def _pump(self, source: socket.socket, sink: socket.socket, upstream: bool) -> None:
        try:
            while data := source.recv(65536):
                if upstream:
                    data = self._upstream(data, source, sink)
                    if data is None:
                        return
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _upstream(self, data: bytes, source: socket.socket, sink: socket.socket) -> bytes | None:
        """The bytes to forward (None: the connection was cut here)."""
        with self._lock:
            if self.armed and self.upstream + len(data) >= self.cut_after:
                keep = self.cut_after - self.upstream
                self.upstream += keep
                self.armed = False
                sink.sendall(data[:keep])
                self.cut.set()
                return None
            self.upstream += len(data)
            if self.cut.is_set():
                for head in _PATCH.findall(data):
                    fields = {k.lower(): int(v) for k, v in _HEADER.findall(head + b"\r\n")}
                    self.patches.append((fields.get(b"upload-offset", -1), fields.get(b"content-length", -1)))
        return data

    def stop(self) -> None:
        self._closing = True
        self._listener.close()

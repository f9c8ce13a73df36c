"""A TCP proxy on loopback that cuts every connection passing through it on demand, and counts
the bytes that pass (``bytes``, both directions; ``reset`` starts again from zero).

Stands between syncd and a real database server to reproduce what the government extranet does:
connections that die mid-transfer. Not a mock: the driver, the server and syncd see a real
socket closing under them.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable


class CuttingProxy:
    def __init__(self, upstream_host: str, upstream_port: int):
        self.upstream = (upstream_host, upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.bytes = 0
        self.cuts = 0
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._closed = False
        self.on_bytes: Callable[[int], None] | None = None
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._pairs.append((client, server))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                with self._lock:
                    self.bytes += len(data)
                    total = self.bytes
                if self.on_bytes is not None:
                    self.on_bytes(total)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def reset(self) -> None:
        """Count the bytes passing through from zero again (both directions together)."""
        with self._lock:
            self.bytes = 0

    def cut(self) -> None:
        """Kill every connection now, mid-transfer or idle, as a dropped link does."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
            self.cuts += 1
        for pair in pairs:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def cut_every(self, nbytes: int, times: int) -> None:
        """Cut all connections each time another ``nbytes`` have passed, ``times`` times."""
        state = {"next": nbytes}

        def check(total: int) -> None:
            if self.cuts < times and total >= state["next"]:
                state["next"] = total + nbytes
                threading.Thread(target=self.cut, daemon=True).start()
        self.on_bytes = check

    def close(self) -> None:
        self._closed = True
        self.listener.close()
        self.cut()

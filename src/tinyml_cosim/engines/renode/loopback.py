"""A TCP server on the loopback interface for the hooks that run inside Renode (mailbox.py, hooks.py): one client
connection at a time, served on a daemon thread until close()."""

from __future__ import annotations

import contextlib
import socket
import threading


class LoopbackServer:
    """Accepts the hook's connection and hands it to `session`; errors land in `error`, never in Renode."""

    def __init__(self, name: str, host: str = "127.0.0.1") -> None:
        self.error: str | None = None
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(1)
        self.port: int = self._listener.getsockname()[1]
        self._closed = threading.Event()
        self._conn: socket.socket | None = None
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    @staticmethod
    def recv_exact(conn: socket.socket, n: int) -> bytes:
        """Exactly n bytes; EOFError when the hook's side closed first."""
        data = b""
        while len(data) < n:
            part = conn.recv(n - len(data))
            if not part:
                raise EOFError
            data += part
        return data

    def session(self, conn: socket.socket) -> None:
        """Serve one connection until it ends (EOFError) or fails (OSError)."""
        raise NotImplementedError

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._conn = conn
            try:
                self.session(conn)
            except EOFError:
                pass
            except OSError as exc:
                if not self._closed.is_set():
                    self.error = f"{self._thread.name}: connection failed: {exc}"
            finally:
                conn.close()
                self._conn = None

    def close(self) -> None:
        self._closed.set()
        for s in (self._listener, self._conn):
            if s is not None:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    s.close()
        if self._thread.is_alive():
            self._thread.join(timeout=2)


__all__ = ["LoopbackServer"]

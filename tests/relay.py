"""A TCP relay that counts round trips to PostgreSQL: for the tests (`counting_relay`) and for
`python -m bench.profile --statements`, which runs from the checkout."""

from __future__ import annotations

import socket
import threading


class CountingRelay:
    """A TCP relay on loopback in front of PostgreSQL that counts round trips: how many times
    the server answered after the client had sent something. What the network sees, whatever
    the code above the socket believes it sent."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.round_trips = 0
        self._asked = False  # the client sent something the server has not answered yet
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _address = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            threading.Thread(target=self._relay, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._relay, args=(server, client, False), daemon=True).start()

    def _relay(self, source: socket.socket, sink: socket.socket, asking: bool) -> None:
        with source, sink:
            while data := _receive(source):
                with self._lock:
                    if asking:
                        self._asked = True
                    elif self._asked:
                        self._asked = False
                        self.round_trips += 1
                try:
                    sink.sendall(data)
                except OSError:  # the other side closed
                    return

    def close(self) -> None:
        self.listener.close()


def _receive(source: socket.socket) -> bytes:
    try:
        return source.recv(65536)
    except OSError:
        return b""

"""What both emulators share: a threaded WSGI server on loopback, and a state file kept
up to date in the background."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

SAVE_EVERY_SECONDS = 0.5


class _JsonErrors(WSGIRequestHandler):
    """What the HTTP layer refuses before the application sees it (a request line over 64
    KiB: 414; a malformed request line: 400) is answered in JSON too, never an HTML page."""

    error_content_type = "application/json"
    error_message_format = '{"error": {"code": "http_%(code)d", "message": "%(message)s"}}'


class LoopbackServer:
    """Serves `app` from a background thread; `save` runs at most every half second after
    a write (saving per write would cost the whole company per write), and on stop."""

    def __init__(self, app: Any, host: str, port: int, save: Callable[[], None]) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=_JsonErrors
        )
        self.base_url = f"http://{host}:{self._server.server_port}"
        self._save = save
        self._dirty, self._stopping = threading.Event(), threading.Event()
        self._saver = threading.Thread(target=self._keep_saving, daemon=True, name="emulator-saver")

    def mark_dirty(self) -> None:
        self._dirty.set()

    def start(self) -> None:
        threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name="emulator",
        ).start()  # a short poll: prompt stops
        self._saver.start()

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._saver.is_alive():
            self._saver.join()  # a save under way ends before the last one starts
        self._save()

    def _keep_saving(self) -> None:
        while not self._stopping.wait(SAVE_EVERY_SECONDS):
            if self._dirty.is_set():
                self._dirty.clear()
                self._save()

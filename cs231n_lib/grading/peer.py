"""One end of the bridge: requests and replies over one socket, in both directions.

Each side sends requests (`{"op": ..., "id": n, ...}`) and waits for the reply to its
own request (`{"reply": n, "ok": value}` or `{"reply": n, "error": {...}}`); while it
waits, requests from the other side (a student function calling back a test's function,
or a test asking the student's side for an attribute) are served as they arrive. So
calls nest to any depth with one thread per side and no shared state but the socket.

The values inside a message are encoded and decoded by the caller (see wire.py): this
module only frames, routes and times them out.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

from cs231n_lib.grading import wire

MAX_ERROR_TEXT = 16 * 2**20  # characters of an error message or traceback that cross (the
# grader then cuts them to Limits.max_output, with a note of the whole size)


class RemoteError(Exception):
    """The other side raised while serving a request: its exception's type name,
    message and traceback text (never the exception object)."""

    def __init__(self, type_name: str, message: str, traceback_text: str = ""):
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name
        self.message = message
        self.traceback_text = traceback_text


class PeerTimeout(TimeoutError):
    """No reply in the time a request had."""


Handler = Callable[[dict, list[bytes]], tuple[object, list[bytes]]]


class Peer:
    """Requests out, replies back, and requests in served by `handler` meanwhile.

    `handler(tree, buffers) -> (reply tree, reply buffers)` serves one incoming request
    (its exceptions become error replies). `deadline()` gives the monotonic time by which
    a reply must come (None: wait for ever)."""

    def __init__(
        self, sock: socket.socket, handler: Handler | None = None, expose_errors: bool = True
    ):
        self.sock = sock
        self.handler = handler
        # False on the trusted side: its errors cross as a type name only (a traceback or
        # message of a test's function could show the test's code or expected values).
        self.expose_errors = expose_errors
        self.deadline: Callable[[], float | None] = lambda: None
        self._next_id = 0
        self.pending = 0  # the id of the last request sent
        self._lock = threading.RLock()
        self.closed = False

    def request(self, tree: dict, buffers: list[bytes]) -> tuple[object, list[bytes]]:
        """Send a request and return (the reply's `ok` tree, its buffers), serving the
        other side's requests while waiting. Raises RemoteError, PeerTimeout, EOFError."""
        with self._lock:
            self._next_id += 1
            my_id = self._next_id
            wire.send(self.sock, {**tree, "id": my_id}, buffers)
            self.pending = my_id
            while True:
                message, data = self._receive()
                if "reply" in message:
                    if message["reply"] != my_id:
                        continue  # a late reply to a request that timed out
                    if "error" in message:
                        raise _remote_error(message["error"])
                    return message.get("ok"), data
                self._serve(message, data)

    def wait_pending(self, seconds: float) -> bool:
        """After a PeerTimeout: wait up to `seconds` more for the reply to the request
        that timed out (e.g. once the other side was interrupted); True if it came."""
        deadline, self.deadline = self.deadline, lambda: end
        end = time.monotonic() + seconds
        try:
            with self._lock:
                while True:
                    message, data = self._receive()
                    if "reply" in message:
                        if message["reply"] == self.pending:
                            return True
                        continue
                    self._serve(message, data)
        except (PeerTimeout, EOFError, OSError, wire.WireError):
            return False
        finally:
            self.deadline = deadline

    def serve_one(self) -> bool:
        """Receive one message and serve it if it is a request; False once closed."""
        try:
            message, data = self._receive(block=True)
        except (EOFError, OSError, wire.WireError):
            self.closed = True
            return False
        if "reply" not in message:
            self._serve(message, data)
        return True

    def serve_forever(self) -> None:
        """Serve requests until the other side closes the connection."""
        try:
            while True:
                with self._lock:
                    message, data = self._receive(block=True)
                    if "reply" not in message:
                        self._serve(message, data)
        except (EOFError, OSError, wire.WireError):
            self.closed = True

    def _receive(self, block: bool = False):
        deadline = None if block else self.deadline()
        timeout = None if deadline is None else max(deadline - time.monotonic(), 0.001)
        self.sock.settimeout(timeout)
        try:
            tree, data = wire.receive(self.sock)
        except TimeoutError:
            raise PeerTimeout("no reply in time") from None
        except EOFError:
            self.closed = True
            raise
        if type(tree) is not dict:
            raise wire.WireError("a message that is not an object")
        return tree, data

    def _serve(self, message: dict, data: list[bytes]) -> None:
        request_id = message.get("id")
        try:
            if self.handler is None:
                raise RuntimeError("this side serves no requests")
            ok, buffers = self.handler(message, data)
            reply = {"reply": request_id, "ok": ok}
        except BaseException as exc:  # noqa: BLE001  every failure (an interrupt too) is a reply
            tree = error_tree(exc) if self.expose_errors else _bare_error(exc)
            reply, buffers = {"reply": request_id, "error": tree}, []
        wire.send(self.sock, reply, buffers)

    def close(self) -> None:
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass


def error_tree(exc: BaseException) -> dict:
    """What crosses about an exception: type name, message and traceback, all text."""
    import traceback

    text = "".join(traceback.format_exception(exc))
    return {
        "type": type(exc).__name__[:100],
        "message": _cap(_safe_str(exc)),
        "traceback": _cap(text),
    }


def _bare_error(exc: BaseException) -> dict:
    name = type(exc).__name__
    return {"type": name, "message": f"a function of the test raised {name}", "traceback": ""}


def _remote_error(tree) -> RemoteError:
    if type(tree) is not dict:
        return RemoteError("Error", "a malformed error reply")
    fields = [tree.get(k) for k in ("type", "message", "traceback")]
    fields = [_cap(f) if type(f) is str else "" for f in fields]
    return RemoteError(fields[0][:100] or "Error", fields[1], fields[2])


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # noqa: BLE001  a student's __str__ may raise
        return f"<{type(exc).__name__}>"


def _cap(text: str) -> str:
    return text if len(text) <= MAX_ERROR_TEXT else text[: MAX_ERROR_TEXT - 3] + "..."

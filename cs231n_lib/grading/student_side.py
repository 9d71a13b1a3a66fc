"""The student's end of the bridge: runs inside the sandboxed kernel, serves the tests.

The trusted test process asks for the student's names and calls the student's functions
and objects; this side answers with plain data (wire.py) or with handles, numbers of
objects kept in `Objects`. Nothing here is trusted: student code can change or replace
all of it, and can only make its own answers wrong. What it must get right for honest
code is the meaning of a call:

- arguments arrive by value: arrays, numbers, containers; handles are the student's own
  objects again; callbacks become functions that call the test's function across the
  bridge; trusted objects (a torch module, an optimizer, a data loader) arrive pickled,
  all of one call in one pickle so objects that share parameters still share them;
- after the call, what the call changed in its arguments goes back ("sync"): arrays,
  dicts and lists that differ from what arrived, and the state of every pickled module
  and optimizer, so a test sees in-place updates (a batchnorm running mean, a trained
  model) as if the call had run in its own process.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import socket
import sys
import threading
import warnings

import numpy as np

from cs231n_lib.grading import wire
from cs231n_lib.grading.peer import Peer

PLAIN_REFERENCES = frozenset({"h", "tr", "pk"})
_PICKLED = object()  # stands in for pickled arguments when decoding them a second time


class Objects:
    """The student's objects the tests hold handles to, by number."""

    def __init__(self):
        self._by_id: dict[int, object] = {}
        self._numbers: dict[int, int] = {}  # id(object) -> its number: one handle per object
        self._next = 0

    def add(self, value) -> dict:
        number = self._numbers.get(id(value))
        if number is None or self._by_id.get(number) is not value:
            self._next += 1
            number = self._next
            self._by_id[number] = value
            self._numbers[id(value)] = number
        return {"t": "h", "id": number, "types": _type_names(value),
                "text": wire.short_repr(value)}  # fmt: skip

    def get(self, number) -> object:
        if type(number) is not int or number not in self._by_id:
            raise KeyError(f"no object number {number!r}")
        return self._by_id[number]


class StudentSide:
    """Serves the trusted side's requests against the kernel's namespace `user_ns`."""

    def __init__(self, sock: socket.socket, user_ns: dict):
        self.user_ns = user_ns
        self.objects = Objects()
        self.peer = Peer(sock, self.handle)
        self._swaps: dict[int, tuple[str, object]] = {}
        self._missing = object()
        self._tokens = 0

    # -- encoding and decoding ---------------------------------------------------------
    def encode(self, value) -> tuple[object, list[bytes]]:
        def reference(item, _encoder):
            if type(item) is TrustedRef:
                return {"t": "tr", "id": item._number}
            return self.objects.add(item)

        encoder = wire.Encoder(reference=reference)
        return encoder.encode(value), encoder.buffers

    def decode(self, tree, buffers: list[bytes], bundle: list | None = None):
        def reference(ref: dict):
            if ref["t"] == "h":
                return self.objects.get(ref.get("id"))
            if ref["t"] == "tr":
                return TrustedRef(self, ref.get("id"))
            if bundle is None or type(ref.get("i")) is not int or not 0 <= ref["i"] < len(bundle):
                raise wire.WireError("a pickled object without its bundle")
            return bundle[ref["i"]]

        return wire.Decoder(buffers, reference, PLAIN_REFERENCES).decode(tree)

    def _bundle(self, message: dict, buffers: list[bytes]) -> list | None:
        index = message.get("pickle")
        if index is None:
            return None
        if type(index) is not int or not 0 <= index < len(buffers):
            raise wire.WireError("a pickle without its buffer")
        unpickler = _Unpickler(io.BytesIO(buffers[index]), self)
        return unpickler.load()

    def call_back(self, number, args: tuple, kwargs: dict):
        tree, buffers = self.encode([list(args), kwargs])
        ok, data = self.peer.request({"op": "callback", "cb": number, "args": tree}, buffers)
        if type(ok) is not dict:
            raise wire.WireError("a malformed reply to a callback")
        return self.decode(ok.get("value"), data, self._bundle(ok, data))

    # -- requests ----------------------------------------------------------------------
    def handle(self, message: dict, buffers: list[bytes]):
        op = message.get("op")
        method = getattr(self, f"op_{op}", None) if type(op) is str else None
        if method is None:
            raise ValueError(f"unknown request {op!r}")
        return method(message, buffers)

    def _target(self, message):
        return self.objects.get(message.get("target"))

    def _values(self, message, buffers, bundle="load") -> dict:
        """The request's encoded values, decoded (`bundle`: the pickled objects to use,
        or "load" to unpickle the request's own)."""
        if "values" not in message:
            return {}
        if bundle == "load":
            bundle = self._bundle(message, buffers)
        values = self.decode(message["values"], buffers, bundle)
        if type(values) is not dict:
            raise wire.WireError("a request whose values are not a dict")
        return values

    def op_has(self, message, buffers):
        names = message.get("names")
        if type(names) is not list:
            raise ValueError("names must be a list")
        return [n for n in names if type(n) is str and n in self.user_ns], []

    def op_lookup(self, message, buffers):
        name = message.get("name")
        if type(name) is not str or name not in self.user_ns:
            raise NameError(f"name {name!r} is not defined")
        return self.encode(self.user_ns[name])

    def op_call(self, message, buffers):
        bundle = self._bundle(message, buffers)
        values = self._values(message, buffers, bundle)
        args, kwargs = values["args"]
        _set_rng_state(values.get("rng"))
        errstate = values.get("errstate")
        errstate = (
            {k: v for k, v in errstate.items() if type(v) is str} if type(errstate) is dict else {}
        )
        with _captured() as seen, np.errstate(**errstate):
            result = self._target(message)(*args, **kwargs)
        # What the call changed in its arguments: compare with a fresh decoding.
        stand_ins = None if bundle is None else [_PICKLED] * len(bundle)
        before_args, before_kwargs = self._values(message, buffers, stand_ins)["args"]
        sync = []
        for key, (after, before) in _pairs(args, kwargs, before_args, before_kwargs):
            state = _state(after) if _is_pickled(after, bundle) else None
            by_value = isinstance(after, (np.ndarray, dict, list)) or wire.is_tensor(after)
            if state is not None:
                sync.append([key, {"state": state}])
            elif by_value and not _same(after, before):
                sync.append([key, {"value": after}])
        reply = {"value": result, "sync": sync, "rng": _rng_state(), **seen}
        return self.encode(reply)

    def op_operator(self, message, buffers):
        import operator

        name = _name(message)
        values = self._values(message, buffers)
        function = getattr(operator, name, None) if name.isidentifier() else None
        if function is None:
            raise ValueError(f"unknown operator {name!r}")
        target = self._target(message)
        if "other" not in values:
            return self.encode(function(target))
        other = values["other"]
        return self.encode(
            function(other, target) if values.get("reflected") else function(target, other)
        )

    def op_isinstance(self, message, buffers):
        return bool(isinstance(self._values(message, buffers)["value"], self._target(message))), []

    def op_issubclass(self, message, buffers):
        return bool(issubclass(self._values(message, buffers)["value"], self._target(message))), []

    def op_backward(self, message, buffers):
        """Call the target on the arguments, backpropagate `dout` from its output here:
        (output, the arguments with each tensor replaced by its gradient), as
        checks.forward_backward does in a kernel of one's own."""
        import functools

        from cs231n_lib.checks import forward_backward

        values = self._values(message, buffers)
        args, kwargs = values["args"]
        target = functools.partial(self._target(message), **kwargs)
        output, grads = forward_backward(target, tuple(args), values.get("dout"))
        return self.encode({"output": output, "grads": grads})

    def op_getattr(self, message, buffers):
        return self.encode(getattr(self._target(message), _name(message)))

    def op_setattr(self, message, buffers):
        setattr(self._target(message), _name(message), self._values(message, buffers)["value"])
        return None, []

    def op_getitem(self, message, buffers):
        return self.encode(self._target(message)[self._values(message, buffers)["key"]])

    def op_setitem(self, message, buffers):
        key, value = self._values(message, buffers)["item"]
        self._target(message)[key] = value
        return None, []

    def op_len(self, message, buffers):
        return len(self._target(message)), []

    def op_bool(self, message, buffers):
        return bool(self._target(message)), []

    def op_iter(self, message, buffers):
        return self.objects.add(iter(self._target(message))), []

    def op_next(self, message, buffers):
        try:
            value = next(self._target(message))
        except StopIteration:
            return self.encode({"stop": True})
        return self.encode({"value": value})

    def op_contains(self, message, buffers):
        return bool(self._values(message, buffers)["key"] in self._target(message)), []

    def op_text(self, message, buffers):
        return str(self._target(message))[:10_000], []

    def op_value(self, message, buffers):
        """The object as an array (what np.asarray makes of it here)."""
        value = self._target(message)
        if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        return self.encode(np.asarray(value))

    def op_swap(self, message, buffers):
        """Put a value (usually a callback: a test's correct sibling function) into the
        namespace under `name` until op_unswap; returns a token."""
        name = _name(message)
        value = self._values(message, buffers)["value"]
        self._tokens += 1
        self._swaps[self._tokens] = (name, self.user_ns.get(name, self._missing))
        self.user_ns[name] = value
        return self._tokens, []

    def op_unswap(self, message, buffers):
        name, saved = self._swaps.pop(message.get("token"))
        if saved is self._missing:
            self.user_ns.pop(name, None)
        else:
            self.user_ns[name] = saved
        return None, []


class TrustedRef:
    """An object of the test, held by reference: calling it calls it there."""

    __slots__ = ("_side", "_number")

    def __init__(self, side: StudentSide, number):
        self._side, self._number = side, number

    def __call__(self, *args, **kwargs):
        return self._side.call_back(self._number, args, kwargs)

    def __repr__(self) -> str:
        return f"<a function of the test, number {self._number}>"


MAX_CALL_OUTPUT = 2 * 2**20  # characters of stdout and of stderr a call sends back


@contextlib.contextmanager
def _captured():
    """What a call prints and warns, to show in the test cell as if it ran there:
    {"out": stdout, "err": stderr, "warnings": [[category, message, file, line], ...]}."""
    seen: dict = {}
    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                yield seen
            finally:
                seen["out"] = out.getvalue()[:MAX_CALL_OUTPUT]
                seen["err"] = err.getvalue()[:MAX_CALL_OUTPUT]
    unique = {}
    for w in caught[:100]:
        key = (w.category.__name__, str(w.message)[:1000], str(w.filename)[:300], int(w.lineno))
        unique.setdefault(key, list(key))
    seen["warnings"] = list(unique.values())


def _rng_state() -> dict:
    """The global random state of numpy and torch here, to give back after a call."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"numpy": [kind, keys, int(pos), int(has_gauss), float(cached)]}
    torch = sys.modules.get("torch")
    if torch is not None:
        state["torch"] = torch.get_rng_state().numpy()
    return state


def _set_rng_state(state) -> None:
    """Take the test's global random state (numpy's and torch's) for this call."""
    if type(state) is not dict:
        return
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.astype(np.uint32), pos, has_gauss, cached))
    if "torch" in state:
        import torch

        torch.set_rng_state(torch.from_numpy(state["torch"].astype(np.uint8)))


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, side: StudentSide):
        super().__init__(file)
        self.side = side

    def persistent_load(self, pid):
        kind, number = pid
        if kind == "h":
            return self.side.objects.get(number)
        if kind == "tr":
            return TrustedRef(self.side, number)
        raise pickle.UnpicklingError(f"unknown reference {kind!r}")


def _pairs(args, kwargs, before_args, before_kwargs):
    yield from enumerate(zip(args, before_args, strict=True))
    for k in kwargs:
        yield k, (kwargs[k], before_kwargs[k])


def _is_pickled(value, bundle) -> bool:
    return bundle is not None and any(value is item for item in bundle)


def _state(value):
    """What a test sees of a pickled object after a call: a module's parameters, buffers
    and train/eval flags, an optimizer's state, a random generator's state; None for
    anything else."""
    state = _generator_state(value)
    if state is not None:
        return state
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    if isinstance(value, torch.nn.Module):
        return {"kind": "module", "state": dict(value.state_dict()),
                "training": [m.training for m in value.modules()]}  # fmt: skip
    if isinstance(value, torch.optim.Optimizer):
        return {"kind": "optimizer", "state": value.state_dict()}
    return None


def _generator_state(value):
    if isinstance(value, np.random.Generator):
        return {"kind": "generator", "state": value.bit_generator.state}
    if isinstance(value, np.random.RandomState):
        return {"kind": "random_state", "state": list(value.get_state(legacy=True))}
    return None


def _same_tensor(a, b) -> bool:
    """Whether two tensors hold the same values (nan == nan), dtype and shape."""
    import torch

    a, b = a.detach(), b.detach()
    if a.shape != b.shape or a.dtype != b.dtype or a.device != b.device:
        return False
    if torch.equal(a, b):
        return True
    if not (a.is_floating_point() or a.is_complex()):
        return False
    return bool(((a == b) | (a.isnan() & b.isnan())).all())


def _same(a, b) -> bool:
    """Whether two decoded values hold the same data (arrays by bytes, nan == nan)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()
    if wire.is_tensor(a):
        return _same_tensor(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    try:
        return bool(a == b) or (a != a and b != b)
    except Exception:  # noqa: BLE001  a tensor or other value without a plain ==
        return a is b


def _name(message) -> str:
    name = message.get("name")
    if type(name) is not str:
        raise ValueError("a request without a name")
    return name


def _type_names(value) -> list[str]:
    try:
        return [f"{c.__module__}.{c.__qualname__}"[:200] for c in type(value).__mro__][:20]
    except Exception:  # noqa: BLE001
        return []


def serve(sock: socket.socket, user_ns: dict, in_main_thread=None) -> threading.Thread:
    """Serve the tests' requests against the namespace `user_ns`: a daemon thread waits
    for each request and has `in_main_thread(task)` run it in the kernel's main thread
    (so an interrupt of the kernel stops a student function that loops, as in a cell),
    or runs it itself when `in_main_thread` is None."""
    side = StudentSide(sock, user_ns)

    def loop():
        while True:
            done = threading.Event()

            def task(done=done):
                try:
                    with _interruptible():
                        side.peer.serve_one()
                finally:
                    done.set()

            # The thread only waits for a request to arrive; the task reads and serves it.
            ready = _wait_readable(sock)
            if not ready:
                return
            if in_main_thread is None:
                task()
            else:
                in_main_thread(task)
                done.wait()
            if side.peer.closed:
                return

    thread = threading.Thread(target=loop, name="cs231n-bridge", daemon=True)
    thread.start()
    return thread


def _wait_readable(sock: socket.socket) -> bool:
    import select

    try:
        select.select([sock], [], [])
        return True
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def _interruptible():
    """SIGINT raises KeyboardInterrupt while a request is served in the main thread."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)

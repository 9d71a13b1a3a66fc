"""The plain-data wire between the trusted test process and a student's sandboxed kernel.

A message is a JSON tree plus raw byte buffers (the data of arrays and tensors):

    [u32 length of JSON][JSON][u32 number of buffers]([u64 length][bytes])...

What a value may be, on the wire (`{"t": kind, ...}` for everything but JSON scalars):
None, bool, int, float (also nan and inf), complex, str, list, tuple, set, frozenset,
dict (keys that are themselves plain), slice, Ellipsis, numpy arrays and scalars of
numeric and boolean dtypes, torch tensors, parameters, devices and dtypes (as arrays and
names), and references:

- `h`: a handle, the number of an object that lives on the student's side (with the names
  of its classes, so `isinstance` against a library class can be answered, and a short
  repr); the trusted side never receives a student object itself;
- `tr`: the number of an object of the test (a function, a recording stand-in): the
  student's side can call it, which calls it on the trusted side, and hand it back;
- `pk`: library objects sent to the student's side only (a torch module, optimizer or data
  loader, a numpy generator a test hands to student code), pickled there-bound; the
  trusted side never unpickles anything.

`decode` is strict: anything else (unknown kinds, object dtypes, shapes that disagree with
their buffers, values nested deeper than MAX_DEPTH, messages past MAX_MESSAGE) is refused
with `WireError`, so a lying student process can only send wrong numbers, never code.

A leaf module: numpy and the standard library (torch only when a tensor is met).
"""

from __future__ import annotations

import json
import math
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

MAX_MESSAGE = 512 * 2**20  # bytes of one message, buffers included
MAX_DEPTH = 64  # nesting of lists, dicts and tuples
MAX_INT_DIGITS = 4000  # of a Python int on the wire
MAX_REPR = 200  # characters of a handle's repr
# numpy dtypes that may cross: booleans, integers, floats, complex numbers.
DTYPES = frozenset(
    f"{order}{kind}{size}"
    for order in "<>|"
    for kind, sizes in (("b", (1,)), ("i", (1, 2, 4, 8)), ("u", (1, 2, 4, 8)),
                        ("f", (2, 4, 8)), ("c", (8, 16)))
    for size in sizes
)  # fmt: skip
TORCH_DTYPES = frozenset(
    ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32",
     "float64", "complex64", "complex128"]
)  # fmt: skip


class WireError(ValueError):
    """A message that is not plain data as this module defines it."""


@dataclass
class Encoder:
    """Turns a value into a JSON tree and buffers.

    `reference(value)` is asked for every value that is not plain data: it returns the
    tree to put instead (a handle, a callback, a pickle) or raises WireError.
    """

    reference: Callable[[object, Encoder], dict] | None = None
    buffers: list[bytes] = field(default_factory=list)

    def encode(self, value, depth: int = 0):
        if depth > MAX_DEPTH:
            raise WireError(f"values nested deeper than {MAX_DEPTH}")
        kind = type(value)
        if value is None or kind is bool or kind is str:
            return value
        if kind is int:
            return {"t": "int", "v": str(value)} if abs(value) >= 2**53 else value
        if kind is float:
            return value if math.isfinite(value) else {"t": "float", "v": repr(value)}
        if kind is complex:
            return {"t": "complex", "v": [value.real, value.imag]}
        if kind in (list, tuple):
            items = [self.encode(v, depth + 1) for v in value]
            return items if kind is list else {"t": "tuple", "v": items}
        if kind is dict:
            pairs = [
                [self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in value.items()
            ]
            return {"t": "dict", "v": pairs}
        if kind is set or kind is frozenset:
            items = [self.encode(v, depth + 1) for v in value]
            return {"t": kind.__name__, "v": items}
        if kind is slice:
            return {"t": "slice", "v": [self.encode(getattr(value, a), depth + 1)
                                        for a in ("start", "stop", "step")]}  # fmt: skip
        if value is Ellipsis:
            return {"t": "ellipsis"}
        if kind is np.ndarray:
            return self._array(value, "nd")
        if isinstance(value, np.generic) and type(value).__module__ == "numpy":
            tree = self._array(np.asarray(value), "np")
            return tree
        if kind.__module__.startswith("torch"):
            tree = _encode_torch(value, self)
            if tree is not None:
                return tree
        if self.reference is None:
            raise WireError(f"{kind.__name__} is not plain data")
        return self.reference(value, self)

    def _array(self, array: np.ndarray, kind: str) -> dict:
        dtype = array.dtype.str
        if dtype not in DTYPES:
            raise WireError(f"arrays of dtype {array.dtype} cannot cross (numbers only)")
        self.buffers.append(np.ascontiguousarray(array).tobytes())
        return {"t": kind, "dtype": dtype, "shape": list(array.shape), "b": len(self.buffers) - 1}

    def buffer(self, data: bytes) -> int:
        self.buffers.append(bytes(data))
        return len(self.buffers) - 1


def _encode_torch(value, encoder: Encoder):
    import torch

    if isinstance(value, torch.Tensor) and type(value) in (torch.Tensor, torch.nn.Parameter):
        tensor = value.detach().cpu()
        name = str(tensor.dtype).removeprefix("torch.")
        if name == "bfloat16":
            tree = encoder._array(tensor.float().numpy(), "tensor")
        else:
            tree = encoder._array(tensor.resolve_conj().resolve_neg().numpy(), "tensor")
        tree["torch_dtype"] = name
        tree["requires_grad"] = bool(value.requires_grad)
        if type(value) is torch.nn.Parameter:
            tree["parameter"] = True
        return tree
    if isinstance(value, torch.device):
        return {"t": "device", "v": str(value)}
    if isinstance(value, torch.dtype):
        return {"t": "torch_dtype", "v": str(value).removeprefix("torch.")}
    return None


@dataclass
class Decoder:
    """Turns a JSON tree and buffers back into values, refusing anything else.

    `reference(tree)` decodes the reference kinds this side accepts (`h`, `cb`, `pk`).
    """

    buffers: list[bytes]
    reference: Callable[[dict], object] | None = None
    references: frozenset[str] = frozenset()

    def decode(self, tree, depth: int = 0):
        if depth > MAX_DEPTH:
            raise WireError(f"values nested deeper than {MAX_DEPTH}")
        if tree is None or type(tree) in (bool, str):
            return tree
        if type(tree) is int:
            return tree
        if type(tree) is float:
            return tree
        if type(tree) is list:
            return [self.decode(v, depth + 1) for v in tree]
        if type(tree) is not dict or type(tree.get("t")) is not str:
            raise WireError(f"unexpected {type(tree).__name__} in a message")
        kind = tree["t"]
        if kind == "int":
            text = _str(tree, "v")
            if len(text) > MAX_INT_DIGITS:
                raise WireError("an integer with too many digits")
            try:
                return int(text)
            except ValueError:
                raise WireError(f"{text[:20]!r} is not an integer") from None
        if kind == "float":
            text = _str(tree, "v")
            if text not in ("nan", "inf", "-inf"):
                raise WireError(f"{text[:20]!r} is not a float")
            return float(text)
        if kind == "complex":
            real, imag = self._list(tree, 2)
            if not all(type(v) in (int, float) for v in (real, imag)):
                raise WireError("a complex number of non-numbers")
            return complex(real, imag)
        if kind == "tuple":
            return tuple(self.decode(v, depth + 1) for v in self._list(tree))
        if kind == "dict":
            out = {}
            for pair in self._list(tree):
                if type(pair) is not list or len(pair) != 2:
                    raise WireError("a dict entry that is not a pair")
                key = self.decode(pair[0], depth + 1)
                try:
                    out[key] = self.decode(pair[1], depth + 1)
                except TypeError:
                    raise WireError("a dict key that cannot be hashed") from None
            return out
        if kind in ("set", "frozenset"):
            try:
                items = {self.decode(v, depth + 1) for v in self._list(tree)}
            except TypeError:
                raise WireError("a set of values that cannot be hashed") from None
            return items if kind == "set" else frozenset(items)
        if kind == "slice":
            parts = [self.decode(v, depth + 1) for v in self._list(tree, 3)]
            if not all(p is None or type(p) is int for p in parts):
                raise WireError("a slice of non-integers")
            return slice(*parts)
        if kind == "ellipsis":
            return Ellipsis
        if kind in ("nd", "np", "tensor"):
            return self._array(tree, kind)
        if kind == "device":
            import torch

            return torch.device(_str(tree, "v")[:40])
        if kind == "torch_dtype":
            import torch

            name = _str(tree, "v")
            if name not in TORCH_DTYPES:
                raise WireError(f"unknown torch dtype {name[:20]!r}")
            return getattr(torch, name)
        if kind in self.references and self.reference is not None:
            return self.reference(tree)
        raise WireError(f"values of kind {kind[:20]!r} cannot cross here")

    def _list(self, tree: dict, length: int | None = None) -> list:
        value = tree.get("v")
        if type(value) is not list or (length is not None and len(value) != length):
            raise WireError(f"a malformed {tree['t']}")
        return value

    def _array(self, tree: dict, kind: str):
        dtype = _str(tree, "dtype")
        if dtype not in DTYPES:
            raise WireError(f"arrays of dtype {dtype[:20]!r} cannot cross (numbers only)")
        shape = tree.get("shape")
        if type(shape) is not list or not all(type(n) is int and n >= 0 for n in shape):
            raise WireError("an array with a malformed shape")
        index = tree.get("b")
        if type(index) is not int or not 0 <= index < len(self.buffers):
            raise WireError("an array without its buffer")
        data = self.buffers[index]
        count = math.prod(shape)
        if count * np.dtype(dtype).itemsize != len(data):
            raise WireError(f"an array of shape {tuple(shape)} with {len(data)} bytes of data")
        array = np.frombuffer(data, dtype=dtype).reshape(shape).copy()
        if kind == "np":
            if shape:
                raise WireError("a numpy scalar with a shape")
            return array[()]
        if kind == "tensor":
            import torch

            name = _str(tree, "torch_dtype")
            if name not in TORCH_DTYPES:
                raise WireError(f"unknown torch dtype {name[:20]!r}")
            tensor = torch.from_numpy(array)
            if name != str(tensor.dtype).removeprefix("torch."):
                tensor = tensor.to(getattr(torch, name))
            grad = tree.get("requires_grad") is True and tensor.is_floating_point()
            if tree.get("parameter") is True:
                return torch.nn.Parameter(tensor, requires_grad=grad)
            if grad:
                tensor.requires_grad_(True)
            return tensor
        return array


def _str(tree: dict, key: str) -> str:
    value = tree.get(key)
    if type(value) is not str:
        raise WireError(f"a {tree.get('t')} without its {key}")
    return value


# ---------------------------------------------------------------------------- framing


def pack(tree, buffers: list[bytes]) -> bytes:
    """One message: the JSON tree and its buffers, length-prefixed."""
    text = json.dumps(tree, allow_nan=False, separators=(",", ":")).encode()
    parts = [struct.pack("<I", len(text)), text, struct.pack("<I", len(buffers))]
    for data in buffers:
        parts += [struct.pack("<Q", len(data)), data]
    message = b"".join(parts)
    if len(message) > MAX_MESSAGE:
        raise WireError(f"a message of {len(message):,} bytes (at most {MAX_MESSAGE:,})")
    return message


def send(sock, tree, buffers: list[bytes]) -> None:
    """Send one message on a connected stream socket."""
    message = pack(tree, buffers)
    sock.sendall(struct.pack("<Q", len(message)) + message)


def receive(sock):
    """Receive one message: (JSON tree, buffers). EOFError when the other side is gone."""
    (size,) = struct.unpack("<Q", _exactly(sock, 8))
    if size > MAX_MESSAGE:
        raise WireError(f"a message of {size:,} bytes (at most {MAX_MESSAGE:,})")
    return unpack(_exactly(sock, size))


def unpack(message: bytes):
    """(JSON tree, buffers) of one message made by `pack`, checked for its framing."""
    view = memoryview(message)
    try:
        (length,) = struct.unpack_from("<I", view, 0)
        offset = 4 + length
        tree = json.loads(bytes(view[4:offset]))
        (count,) = struct.unpack_from("<I", view, offset)
        offset += 4
        buffers = []
        for _ in range(count):
            (size,) = struct.unpack_from("<Q", view, offset)
            offset += 8
            if offset + size > len(view):
                raise WireError("a buffer runs past the end of its message")
            buffers.append(bytes(view[offset : offset + size]))
            offset += size
    except (struct.error, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise WireError(f"a malformed message: {type(exc).__name__}") from None
    if offset != len(view):
        raise WireError("bytes after the end of a message")
    return tree, buffers


def _exactly(sock, size: int) -> bytes:
    chunks, got = [], 0
    while got < size:
        chunk = sock.recv(min(size - got, 4 * 2**20))
        if not chunk:
            raise EOFError("the other side closed the connection")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def is_tensor(value) -> bool:
    """Whether `value` is a torch tensor (without importing torch where it is not loaded)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def short_repr(value) -> str:
    """repr(value) cut to MAX_REPR characters; never raises."""
    try:
        text = repr(value)
    except Exception as exc:  # noqa: BLE001  a student's __repr__ may raise anything
        text = f"<{type(value).__name__}: repr raised {type(exc).__name__}>"
    return text if len(text) <= MAX_REPR else text[: MAX_REPR - 3] + "..."

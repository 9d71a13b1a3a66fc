"""The trusted side of grading: test cells run here, in the grader's process, and reach
the student's code only through the bridge to the sandboxed kernel.

A graded notebook runs in two places at once. The sandboxed kernel runs every cell that is
not a test (setup, the student's solutions, plots); this process runs the test cells, and
the setup cells whose names the tests read (imports, data, helpers: `plan`), in a
namespace of its own. A name a test reads that the student's cells define (functions,
classes, chosen hyperparameters) is fetched from the kernel: plain data arrives by value,
anything else as a `StudentProxy`, a handle whose calls, attributes, items and iteration
are requests to the kernel. Arguments go the other way by value (arrays, numbers,
containers), functions as callbacks, torch objects pickled (student_side.py says how the
kernel treats them), and what a call changed in its arguments comes back.

So nothing the student's code does (hooks on IPython, patched checkers, objects whose
`__array__` looks for the expected value, detecting the grader) reaches a test's code, its
expected values or its verdict: they are not in the student's process. The verdict is
this process's record (`RECORDS`): a test passed when its code ran to the end without an
exception and without writing to stderr, as nbgrader scores a cell, never read back from
outputs the kernel made.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import io
import linecache
import pickle
import sys
import time
import traceback
import types
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

from nbformat import NotebookNode

from cs231n_lib.grading import wire
from cs231n_lib.grading.notebooks import grade_id, nbgrader_metadata, python_source
from cs231n_lib.grading.peer import Peer, PeerTimeout, RemoteError

STUDENT_KEY = "__cs231n_student__"  # the bridge, in the tests' namespace (for checks.swapped)
TESTS_MODULE = "__cs231n_tests__"  # __name__ of the tests' namespace
# Where library functions may be sent to the student's side by reference (pickled by name):
# everything else that is a function crosses as a callback.
LIBRARY_PREFIXES = ("torch", "numpy", "math", "operator", "builtins", "functools", "scipy")
# notebook name -> {grade id: True (passed) / False}; written by GuardedExecute, read by the
# worker after nbgrader's autograde, in the same process.
RECORDS: dict[str, dict[str, bool]] = {}
FLAGS: dict[str, list[str]] = {}  # notebook name -> dynamic lookups for the instructor


class StudentCodeError(Exception):
    """An exception of the student's code, raised again on this side: its type is a
    subclass of the builtin exception of the same name where there is one."""

    traceback_text = ""


@functools.cache
def _exception_class(type_name: str) -> type:
    base = getattr(builtins, type_name, None)
    if isinstance(base, type) and issubclass(base, Exception) and base is not StopIteration:
        return type(type_name, (base, StudentCodeError), {"__module__": "builtins"})
    return type(type_name, (StudentCodeError,), {"__module__": "student"})


def student_error(exc: RemoteError) -> StudentCodeError:
    # The student's own name for it, whatever it is (the CSVs and terminal escape it).
    error = _exception_class(exc.type_name[:100] or "Error")(exc.message)
    error.traceback_text = exc.traceback_text
    return error


# ------------------------------------------------------------------------------ proxies


class StudentProxy:
    """A handle to one object in the student's kernel; every use is a request there."""

    __slots__ = ("_bridge", "_id", "_types", "_text", "_path")

    def __init__(self, bridge: Bridge, number: int, types_: tuple, text: str, path: str):
        for name, value in zip(self.__slots__, (bridge, number, types_, text, path), strict=True):
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__") and name not in FORWARDED_DUNDERS:
            raise AttributeError(name)  # protocols this proxy does not speak
        return self._bridge.ask("getattr", self, name=name, path=f"{self._path}.{name}")

    def __setattr__(self, name: str, value) -> None:
        self._bridge.ask("setattr", self, name=name, value=value)

    def __call__(self, *args, **kwargs):
        return self._bridge.call(self, args, kwargs)

    def __getitem__(self, key):
        return self._bridge.ask("getitem", self, key=key, path=f"{self._path}[...]")

    def __setitem__(self, key, value) -> None:
        self._bridge.ask("setitem", self, item=(key, value))

    def __len__(self) -> int:
        return _int(self._bridge.ask("len", self))

    def __bool__(self) -> bool:
        return self._bridge.ask("bool", self) is True

    def __contains__(self, key) -> bool:
        return self._bridge.ask("contains", self, key=key) is True

    def __iter__(self) -> Iterator:
        return self._bridge.ask("iter", self, path=f"iter({self._path})")

    def __next__(self):
        reply = self._bridge.ask("next", self)
        if type(reply) is not dict:
            raise wire.WireError("a malformed reply to next()")
        if reply.get("stop") is True:
            raise StopIteration
        return reply.get("value")

    def __array__(self, dtype=None, copy=None):
        value = self._bridge.ask("value", self)
        import numpy as np

        if not isinstance(value, np.ndarray):
            raise TypeError(f"{self._text} is not array-like")
        return value if dtype is None else value.astype(dtype)

    def __repr__(self) -> str:
        return self._text

    def __instancecheck__(self, value) -> bool:
        return self._bridge.ask("isinstance", self, value=value) is True

    def __subclasscheck__(self, value) -> bool:
        return self._bridge.ask("issubclass", self, value=value) is True

    def _call_backward(self, args: tuple, dout, kwargs: dict | None = None):
        """Call the student's function on `args` and backpropagate `dout` through its
        output there: (output, [gradient of each tensor argument or None])."""
        return self._bridge.ask("backward", self, args=[list(args), kwargs or {}], dout=dout)

    def __str__(self) -> str:
        text = self._bridge.ask("text", self)
        return text if type(text) is str else self._text

    def __copy__(self):
        raise TypeError(f"{self._path} lives in the student's kernel and cannot be copied")

    __deepcopy__ = __reduce_ex__ = lambda self, *a: self.__copy__()  # noqa: E731

    @property
    def __class__(self):
        """The most derived class of the object's own classes that this process knows
        (a torch or numpy class), so `isinstance(model, nn.Module)` answers as there."""
        for name in self._types:
            known = _known_class(name)
            if known is not None:
                return known
        return StudentProxy


FORWARDED_DUNDERS = frozenset({"__name__", "__qualname__", "__doc__", "__module__"})
_BINARY = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or",
           "xor", "lshift", "rshift", "lt", "le", "gt", "ge")  # fmt: skip
_UNARY = ("neg", "pos", "abs", "invert")


def _operator(name: str, reflected: bool = False):
    def method(self, other):
        return self._bridge.ask("operator", self, name=name, other=other, reflected=reflected)

    method.__name__ = f"__{'r' if reflected else ''}{name}__"
    return method


def _unary(name: str):
    def method(self):
        return self._bridge.ask("operator", self, name=name)

    method.__name__ = f"__{name}__"
    return method


for _name in _BINARY:
    setattr(StudentProxy, f"__{_name}__", _operator(_name))
    if _name not in ("lt", "le", "gt", "ge"):
        setattr(StudentProxy, f"__r{_name}__", _operator(_name, reflected=True))
for _name in _UNARY:
    setattr(StudentProxy, f"__{_name}__", _unary(_name))


def _known_class(qualified: str):
    module_name, _, qualname = qualified.rpartition(".")
    while module_name:
        module = sys.modules.get(module_name)  # never import a module the student names
        if module is not None and module_name.split(".")[0] in LIBRARY_PREFIXES:
            value = module
            for part in qualname.split("."):
                value = getattr(value, part, None)
            return value if isinstance(value, type) else None
        module_name, _, head = module_name.rpartition(".")
        qualname = f"{head}.{qualname}"
    return None


def _int(value) -> int:
    if type(value) is not int or value < 0:
        raise wire.WireError("len() of a student's object must be a non-negative int")
    return value


# ------------------------------------------------------------------------------- bridge


class Bridge:
    """The trusted end of the bridge to one student's kernel."""

    def __init__(self, sock):
        self.peer = Peer(sock, self._serve, expose_errors=False)
        self.callbacks: dict[int, object] = {}
        self._proxies: dict[int, StudentProxy] = {}  # one proxy per object of the student's
        self._scopes: list[list[int]] = [[]]
        self._next_callback = 0

    # -- values ----------------------------------------------------------------------
    def encode(self, value) -> tuple[object, list[bytes], int | None, list]:
        """(tree, buffers, index of the pickle buffer or None, the pickled objects)."""
        pickled: list = []

        def reference(item, _encoder):
            if isinstance(item, StudentProxy):
                return {"t": "h", "id": object.__getattribute__(item, "_id")}
            if _is_sent_by_copy(item):
                pickled.append(item)
                return {"t": "pk", "i": len(pickled) - 1}
            return {"t": "tr", "id": self.register(item)}

        encoder = wire.Encoder(reference=reference)
        tree = encoder.encode(value)
        index = encoder.buffer(self._pickle(pickled)) if pickled else None
        return tree, encoder.buffers, index, pickled

    def decode(self, tree, buffers: list[bytes], path: str = "value"):
        def reference(ref: dict):
            if ref["t"] == "tr":
                if ref.get("id") not in self.callbacks:
                    raise LookupError("an object of the test that is no longer available")
                return self.callbacks[ref["id"]]
            number, types_, text = ref.get("id"), ref.get("types", []), ref.get("text", "")
            if type(number) is not int or type(types_) is not list or type(text) is not str:
                raise wire.WireError("a malformed handle")
            if number not in self._proxies:
                types_ = tuple(t for t in types_ if type(t) is str)
                text = f"<student's {text[: wire.MAX_REPR]}>"
                self._proxies[number] = StudentProxy(self, number, types_, text, path)
            return self._proxies[number]

        return wire.Decoder(buffers, reference, frozenset({"h", "tr"})).decode(tree)

    def _pickle(self, objects: list) -> bytes:
        buffer = io.BytesIO()
        try:
            _Pickler(buffer, self).dump(objects)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            kinds = ", ".join(sorted({type(o).__name__ for o in objects}))
            raise TypeError(
                f"the test hands the student's code a {kinds} that cannot be sent to the "
                f"sandbox ({exc}); pass arrays, numbers, torch modules or functions"
            ) from None
        return buffer.getvalue()

    def register(self, function) -> int:
        self._next_callback += 1
        self.callbacks[self._next_callback] = function
        self._scopes[-1].append(self._next_callback)
        return self._next_callback

    def revoke_all(self) -> None:
        self.callbacks.clear()
        self._scopes = [[]]

    # -- requests --------------------------------------------------------------------
    def request(self, op: str, fields: dict, value_fields: dict, path: str = "value"):
        """Send `op` with plain `fields` and encoded `value_fields`; decode the reply."""
        payload = {}
        pickled: list = []
        buffers: list[bytes] = []
        if value_fields:
            tree, buffers, index, pickled = self.encode(value_fields)
            payload = {"values": tree, "pickle": index}
        try:
            ok, data = self.peer.request({"op": op, **fields, **payload}, buffers)
        except RemoteError as exc:
            raise student_error(exc) from None
        return self.decode(ok, data, path), pickled

    def ask(self, op: str, target: StudentProxy, path: str = "value", **values):
        """One request about `target`; values are encoded (names stay plain)."""
        fields = {"target": object.__getattribute__(target, "_id")}
        if "name" in values:
            fields["name"] = values.pop("name")
        result, _ = self.request(op, fields, values, path)
        return result

    def call(self, target: StudentProxy, args: tuple, kwargs: dict):
        """Call the student's `target`; put back what the call changed in the arguments."""
        path = object.__getattribute__(target, "_path")
        fields = {"target": object.__getattribute__(target, "_id")}
        import numpy as np

        # The test's global state that a call would see in one process: random generators
        # and numpy's floating-point error handling (np.errstate).
        values = {"args": [list(args), kwargs], "rng": _rng_state(), "errstate": np.geterr()}
        reply, pickled = self.request("call", fields, values, f"{path}(...)")
        if type(reply) is not dict or type(reply.get("sync")) is not list:
            raise wire.WireError("a malformed reply to a call")
        _set_rng_state(reply.get("rng"))
        _replay(reply)
        for key, change in reply["sync"]:
            original = args[key] if type(key) is int and 0 <= key < len(args) else kwargs.get(key)
            _apply(original, change)
        return reply.get("value")

    def lookup(self, name: str):
        result, _ = self.request("lookup", {"name": name}, {}, name)
        return result

    def has(self, names: list[str]) -> set[str]:
        result, _ = self.request("has", {"names": names}, {})
        return {n for n in result if type(n) is str} if type(result) is list else set()

    def swap(self, name: str, value) -> int:
        """Put `value` into the student's namespace as `name` (see checks.swapped)."""
        self._scopes.append([])
        token, _ = self.request("swap", {"name": name}, {"value": value})
        return token

    def unswap(self, token: int) -> None:
        try:
            self.request("unswap", {"token": token}, {})
        finally:
            for number in self._scopes.pop() if len(self._scopes) > 1 else []:
                self.callbacks.pop(number, None)

    def _serve(self, message: dict, buffers: list[bytes]):
        """The student's side calls one of the test's functions it was handed."""
        if message.get("op") != "callback":
            raise ValueError("the student's side may only call back")
        function = self.callbacks.get(message.get("cb"))
        if function is None or not callable(function):
            raise LookupError("this function of the test is no longer available")
        args = self.decode(message.get("args"), buffers, "argument")
        if type(args) is not list or len(args) != 2 or type(args[1]) is not dict:
            raise wire.WireError("a malformed callback")
        result = function(*args[0], **{str(k): v for k, v in args[1].items()})
        tree, data, index, _ = self.encode(result)
        return {"value": tree, "pickle": index}, data


def _is_sent_by_copy(value) -> bool:
    """Library objects a test hands to student code, sent as pickled copies (and synced
    back after the call where they have state): torch modules, optimizers, data loaders,
    data sets, generators; numpy random generators and dtypes; library classes."""
    import numpy as np

    if isinstance(value, (np.random.Generator, np.random.RandomState, np.dtype)):
        return True
    if isinstance(value, type):
        return (value.__module__ or "").split(".")[0] in LIBRARY_PREFIXES
    torch = sys.modules.get("torch")
    if torch is None:
        return False
    kinds = (torch.nn.Module, torch.optim.Optimizer, torch.utils.data.DataLoader,
             torch.utils.data.Dataset, torch.Generator)  # fmt: skip
    return isinstance(value, kinds)


def _is_function(value) -> bool:
    if isinstance(value, (types.FunctionType, functools.partial)):
        module = getattr(value, "__module__", "") or ""
        qualname = getattr(value, "__qualname__", "<") or "<"
        return not (module.split(".")[0] in LIBRARY_PREFIXES and "<" not in qualname)
    if isinstance(value, types.MethodType):
        return True
    if isinstance(value, types.BuiltinMethodType):
        owner = getattr(value, "__self__", None)
        return owner is not None and not isinstance(owner, types.ModuleType)
    return False


class _Pickler(pickle.Pickler):
    def __init__(self, file, bridge: Bridge):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.bridge = bridge

    def persistent_id(self, obj):
        if isinstance(obj, StudentProxy):
            return ("h", object.__getattribute__(obj, "_id"))
        if _is_function(obj) or type(obj).__module__ == TESTS_MODULE:
            return ("tr", self.bridge.register(obj))
        if isinstance(obj, type) and obj.__module__ == TESTS_MODULE:
            raise TypeError(f"class {obj.__name__} is defined in a test cell")
        return None


def _replay(reply: dict) -> None:
    """Show what a student's call printed and warned as if it ran in the test cell: its
    stdout and stderr here, its warnings raised again (a warning on stderr costs a test
    cell its points, as in a kernel)."""
    for key, stream in (("out", sys.stdout), ("err", sys.stderr)):
        if type(reply.get(key)) is str and reply[key]:
            stream.write(reply[key])
    found = reply.get("warnings")
    for item in found if type(found) is list else []:
        if type(item) is not list or len(item) != 4:
            continue
        name, message, filename, lineno = item
        category = getattr(builtins, name, None) if type(name) is str else None
        if not (isinstance(category, type) and issubclass(category, Warning)):
            category = UserWarning
        if type(message) is str and type(filename) is str and type(lineno) is int:
            warnings.warn_explicit(message, category, filename, lineno)


def _rng_state():
    """The global random state of torch and numpy here, for the student's side to use
    during a call (and to give back), as if the call ran in this process."""
    import numpy as np

    state = {"numpy": list(_numpy_state(np.random.get_state()))}
    torch = sys.modules.get("torch")
    if torch is not None:
        state["torch"] = torch.get_rng_state().numpy()
    return state


def _numpy_state(state):
    kind, keys, pos, has_gauss, cached = state
    return kind, keys, int(pos), int(has_gauss), float(cached)


def _set_rng_state(state) -> None:
    import numpy as np

    if type(state) is not dict:
        return
    with contextlib.suppress(Exception):  # a state the student's side mangled is ignored
        kind, keys, pos, has_gauss, cached = state["numpy"]
        if kind == "MT19937" and isinstance(keys, np.ndarray) and keys.shape == (624,):
            np.random.set_state((kind, keys.astype(np.uint32), pos, has_gauss, cached))
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(state.get("torch"), np.ndarray):
        with contextlib.suppress(Exception):
            torch.set_rng_state(torch.from_numpy(state["torch"].astype(np.uint8)))


def _apply(original, change) -> None:
    """Put what a call changed back into the argument the test passed (in place)."""
    if type(change) is not dict:
        raise wire.WireError("a malformed change")
    if "state" in change:
        _load_state(original, change["state"])
    elif "value" in change:
        _sync_into(original, change["value"])


def _sync_into(original, new) -> None:
    import numpy as np

    if isinstance(original, np.ndarray) and isinstance(new, np.ndarray):
        if original.shape == new.shape and original.flags.writeable:
            np.copyto(original, new, casting="unsafe")
    elif wire.is_tensor(original) and wire.is_tensor(new):
        import torch

        # In place, as the student's code changed its copy (img.data += step); a tensor
        # that cannot take it (another shape, an inference tensor) keeps its values.
        if original.shape == new.shape:
            with torch.no_grad(), contextlib.suppress(RuntimeError):
                original.copy_(new.to(original.device))
    elif isinstance(original, dict) and isinstance(new, dict):
        for key in [k for k in original if k not in new]:
            del original[key]
        for key, value in new.items():
            if key in original and _mergeable(original[key], value):
                _sync_into(original[key], value)
            else:
                original[key] = value
    elif isinstance(original, list) and isinstance(new, list):
        if len(original) == len(new):
            for i, value in enumerate(new):
                if _mergeable(original[i], value):
                    _sync_into(original[i], value)
                else:
                    original[i] = value
        else:
            original[:] = new


def _mergeable(a, b) -> bool:
    import numpy as np

    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.shape == b.shape
    if wire.is_tensor(a) and wire.is_tensor(b):
        return a.shape == b.shape
    return (isinstance(a, dict) and isinstance(b, dict)) or (
        isinstance(a, list) and isinstance(b, list)
    )


def _load_state(original, state) -> None:
    import numpy as np

    if type(state) is not dict:
        raise wire.WireError("a malformed state")
    if state.get("kind") in ("generator", "random_state"):
        with contextlib.suppress(Exception):  # a state the student's side mangled is ignored
            if isinstance(original, np.random.Generator):
                original.bit_generator.state = state["state"]
            elif isinstance(original, np.random.RandomState):
                original.set_state(tuple(state["state"]))
        return
    import torch

    if state.get("kind") == "module" and isinstance(original, torch.nn.Module):
        values = state.get("state")
        with torch.no_grad():
            own = original.state_dict()
            for key, tensor in (values or {}).items():
                if key in own and isinstance(tensor, torch.Tensor):
                    if own[key].shape == tensor.shape:
                        own[key].copy_(tensor)
        flags = state.get("training")
        if type(flags) is list:
            for module, flag in zip(original.modules(), flags, strict=False):
                module.training = flag is True
    elif state.get("kind") == "optimizer" and isinstance(original, torch.optim.Optimizer):
        with contextlib.suppress(Exception):  # a student's optimizer state may not fit
            original.load_state_dict(state.get("state"))


# ------------------------------------------------------------------------------ runner


@dataclass
class Plan:
    """Which code cells run where: `tests` here only, `shared` in both places, the rest
    in the kernel only; `student_names` are what the student's cells define."""

    tests: set[int] = field(default_factory=set)
    shared: set[int] = field(default_factory=set)
    student_names: set[str] = field(default_factory=set)
    loads: dict[int, set[str]] = field(default_factory=dict)


def is_test_cell(cell) -> bool:
    meta = nbgrader_metadata(cell)
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def plan(cells: list) -> Plan:
    """Which cells run where (see Plan): a setup cell runs here too when it defines a name
    a later test cell reads; a test cell reads the student's definitions from the kernel."""
    result = Plan()
    stores: dict[int, set[str]] = {}
    for index, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        tree = _parse(cell.source)
        if tree is None:
            continue
        if is_test_cell(cell):
            result.tests.add(index)
            result.loads[index] = _loads(tree)
        elif nbgrader_metadata(cell).get("solution"):
            result.student_names |= _top_level_stores(tree)
        else:
            stores[index] = _top_level_stores(tree)
    for index, names in stores.items():
        later = set().union(*(result.loads[t] for t in result.tests if t > index))
        if names & later:
            result.shared.add(index)
    return result


def _parse(source: str):
    try:
        return ast.parse(python_source(source))
    except SyntaxError:
        return None


def _loads(tree) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _top_level_stores(tree) -> set[str]:
    """Names a cell binds at the top level (not inside its functions and classes)."""
    names: set[str] = set()

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(child.name)
                continue
            if isinstance(child, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp,
                                  ast.GeneratorExp)):  # fmt: skip
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in child.names)
            elif isinstance(child, ast.Name) and isinstance(child.ctx, (ast.Store, ast.Del)):
                names.add(child.id)
            elif isinstance(child, ast.Global):
                names.update(child.names)
            visit(child)

    visit(tree)
    return names


INTERRUPT_GRACE_SECONDS = 10  # for the student's code to stop after an interrupt


class CellTimeout(Exception):
    """A test cell waited on the student's code past the cell's time limit."""


class KernelGone(Exception):
    """The student's kernel closed the bridge (it died or was stopped)."""


class TestRunner:
    """Runs one notebook's test cells (and shared setup cells) in a namespace of its own."""

    def __init__(self, bridge: Bridge, cells: list, notebook: str):
        self.bridge = bridge
        self.plan = plan(cells)
        self.notebook = notebook
        self.namespace: dict = {
            "__name__": TESTS_MODULE,
            "__builtins__": builtins,
            STUDENT_KEY: bridge,
        }
        self.record: dict[str, bool] = {}
        self.flags: list[str] = []  # dynamic lookups the own-implementation checks saw
        self.deadline: float | None = None
        self.cells = cells
        self.interrupt = None  # () -> bool: interrupt the kernel (GuardedExecute sets it)
        bridge.peer.deadline = lambda: self.deadline

    def source_of(self, func, before: int):
        """What the own-implementation checks read for a student's function: its source
        in the submitted notebook's cells above the test (never what the kernel says)."""
        from cs231n_lib.codescan import ImplementationSource

        if not isinstance(func, StudentProxy):
            return None
        name = object.__getattribute__(func, "_path").split(".")[0].split("[")[0]
        sources = [
            python_source(c.source)
            for c in self.cells[:before]
            if c.cell_type == "code" and not is_test_cell(c)
        ]
        try:
            return ImplementationSource.from_cells(name, sources)
        except (ValueError, SyntaxError) as exc:
            raise AssertionError(
                f"{name} is not defined by a def or class statement in the notebook's cells "
                f"({exc}); the grader checks the code you wrote there"
            ) from None

    def run_shared(self, cell, index: int, timeout: float) -> None:
        """A setup cell: run it here too for the names the tests read; its output is the
        kernel's (this run's is dropped), and a failure only leaves names undefined."""
        with contextlib.suppress(Exception):
            self._execute(cell, index, timeout)

    def run_test(self, cell, index: int, timeout: float) -> list[NotebookNode]:
        """Run a test cell; returns its outputs and records whether it passed."""
        gid = grade_id(cell) or f"cell-{index}"
        error = None
        try:
            stdout, stderr = self._execute(cell, index, timeout)
        except (CellTimeout, KernelGone):
            self.record[gid] = False
            raise
        except _Failure as failure:
            stdout, stderr, error = failure.stdout, failure.stderr, failure.output
        outputs = []
        if stdout:
            outputs.append(NotebookNode(output_type="stream", name="stdout", text=stdout))
        if stderr:
            outputs.append(NotebookNode(output_type="stream", name="stderr", text=stderr))
        if error is not None:
            outputs.append(error)
        self.record[gid] = error is None and not stderr
        return outputs

    def _execute(self, cell, index: int, timeout: float) -> tuple[str, str]:
        source = python_source(cell.source)
        filename = f"<{self.notebook} cell {grade_id(cell) or index + 1}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        self.deadline = time.monotonic() + timeout
        stdout, stderr = io.StringIO(), io.StringIO()
        from cs231n_lib import checks

        lookup = checks.set_source_lookup(lambda func: self.source_of(func, index))
        sink = checks.set_flag_sink(lambda message: self.flags.append(f"{filename}: {message}"))
        try:
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                with warnings.catch_warnings():
                    warnings.simplefilter("default")
                    # Ignored as in a kernel: they come from objects of the grader's own
                    # process collected during the cell (a Dask worker's event loops), and
                    # a warning on stderr would cost a correct submission the cell.
                    warnings.simplefilter("ignore", ResourceWarning)
                    code = compile(source, filename, "exec")
                    self._resolve(_loads(ast.parse(source)))
                    exec(code, self.namespace)  # noqa: S102  the instructor's test code
        except PeerTimeout:
            if (
                self.interrupt is not None
                and self.interrupt()
                and self.bridge.peer.wait_pending(INTERRUPT_GRACE_SECONDS)
            ):
                message = f"the cell ran longer than {timeout:.0f} s and was interrupted"
                error = NotebookNode(
                    output_type="error", ename="CellTimeoutError", evalue=message,
                    traceback=[f"CellTimeoutError: {message}"],
                )  # fmt: skip
                raise _Failure(stdout.getvalue(), stderr.getvalue(), error) from None
            raise CellTimeout(f"waited more than {timeout:.0f} s for the student's code") from None
        except EOFError:
            raise KernelGone("the student's kernel stopped during the cell") from None
        except Exception as exc:  # noqa: BLE001  a failing test, reported as the cell's error
            raise _Failure(stdout.getvalue(), stderr.getvalue(), _error_output(exc)) from None
        finally:
            checks.set_source_lookup(lookup)
            checks.set_flag_sink(sink)
            self.deadline = None
            self.bridge.revoke_all()
            _close_figures()
        return stdout.getvalue(), stderr.getvalue()

    def _resolve(self, wanted: set[str]) -> None:
        """Bind the names a cell reads that the student's kernel defines: the student's
        own definitions afresh each time, other names only where this side has none."""
        fresh = wanted & self.plan.student_names
        unknown = {
            n for n in wanted - fresh if n not in self.namespace and not hasattr(builtins, n)
        }
        present = self.bridge.has(sorted(fresh | unknown)) if fresh | unknown else set()
        for name in sorted(present):
            self.namespace[name] = self.bridge.lookup(name)


class _Failure(Exception):
    def __init__(self, stdout: str, stderr: str, output: NotebookNode):
        super().__init__()
        self.stdout, self.stderr, self.output = stdout, stderr, output


_HIDDEN_FRAMES = ("/grading/trusted.py", "/grading/peer.py", "/grading/wire.py")


def _error_output(exc: BaseException) -> NotebookNode:
    """An error output as a kernel makes one: the test's frames (not the bridge's), and
    for an error of the student's code, its traceback from the kernel."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not f.filename.endswith(_HIDDEN_FRAMES)
    ]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
    ename = type(exc).__name__
    evalue = str(exc)
    lines.append(f"{ename}: {evalue}\n" if evalue else f"{ename}\n")
    if isinstance(exc, StudentCodeError) and exc.traceback_text:
        lines += ["\nIn your code (it ran in the sandboxed kernel):\n", exc.traceback_text]
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=["".join(lines)])


def _close_figures() -> None:
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")

"""The plain-data bridge between the trusted tests and a student's kernel (wire.py,
peer.py, student_side.py, trusted.py), in one process over a socket pair: what crosses,
what is refused, and that a call means what it means in one process."""

from __future__ import annotations

import socket

import numpy as np
import pytest
import torch

from cs231n_lib.grading import wire
from cs231n_lib.grading.student_side import serve
from cs231n_lib.grading.trusted import Bridge, StudentProxy

STUDENT_CODE = """
import numpy as np, torch
from torch import nn
def affine(x, w): return x @ w, (x, w)
def mutate(param): param["running_mean"] = param["running_mean"] + 1
def grow(a): a += 1
def step(img):
    (2 * img).sum().backward()
    img.data += img.grad
def nudge(params): params["w"].mul_(2)
def keep(x): return x
class Net(nn.Module):
    def __init__(self): super().__init__(); self.fc = nn.Linear(3, 2)
    def forward(self, x): return self.fc(x)
def train(model, opt, x):
    model.train(); opt.zero_grad(); model(x).sum().backward(); opt.step()
def twice(f, x): return 2 * f(x)
def stash(f):
    global kept
    kept = f
def use_stash(x): return kept(x)
def noisy(x): print("working"); return x
class Liar:
    def __array__(self, dtype=None, copy=None): return np.zeros(3)
"""


@pytest.fixture
def bridge():
    trusted_end, student_end = socket.socketpair()
    namespace: dict = {}
    exec(STUDENT_CODE, namespace)  # noqa: S102  the test's own stand-in for student code
    serve(student_end, namespace)
    yield Bridge(trusted_end)
    trusted_end.close()
    student_end.close()


def roundtrip(value):
    encoder = wire.Encoder()
    tree = encoder.encode(value)
    return wire.Decoder(*wire.unpack(wire.pack(tree, encoder.buffers))[1:]).decode(
        wire.unpack(wire.pack(tree, encoder.buffers))[0]
    )


def test_plain_values_cross_unchanged():
    value = {"a": [1, 2.5, float("nan"), None, True, "s"], (1, 2): {3, 4}, "big": 2**80,
             "x": np.arange(6, dtype=np.int16).reshape(2, 3),
             "t": torch.ones(2, dtype=torch.float64),
             "s": np.float32(1.5), "sl": slice(1, None, 2), "c": 1 + 2j}  # fmt: skip
    back = roundtrip(value)
    assert (
        back["a"][:2] == [1, 2.5] and np.isnan(back["a"][2]) and back["a"][3:] == [None, True, "s"]
    )
    assert back[(1, 2)] == {3, 4} and back["big"] == 2**80 and back["c"] == 1 + 2j
    assert back["x"].dtype == np.int16 and np.array_equal(back["x"], value["x"])
    assert isinstance(back["t"], torch.Tensor) and back["t"].dtype == torch.float64
    assert back["s"] == np.float32(1.5) and back["sl"] == slice(1, None, 2)


@pytest.mark.parametrize(
    "tree, buffers, why",
    [
        ({"t": "nd", "dtype": "|O", "shape": [1], "b": 0}, [b"\0" * 8], "dtype"),
        ({"t": "nd", "dtype": "<f8", "shape": [2], "b": 0}, [b"\0" * 8], "bytes of data"),
        ({"t": "nd", "dtype": "<f8", "shape": [1], "b": 3}, [], "buffer"),
        ({"t": "pickle", "v": "x"}, [], "cannot cross"),
        ({"t": "h", "id": 1}, [], "cannot cross"),
        ({"t": "int", "v": "1" * 5000}, [], "digits"),
        ({"t": "float", "v": "1e999999"}, [], "not a float"),
    ],
)
def test_decoding_refuses_anything_but_plain_data(tree, buffers, why):
    with pytest.raises(wire.WireError, match=why):
        wire.Decoder(buffers).decode(tree)


def test_deep_nesting_and_malformed_frames_are_refused():
    deep: list = []
    for _ in range(wire.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(wire.WireError, match="deeper"):
        wire.Decoder([]).decode(deep)
    with pytest.raises(wire.WireError):
        wire.unpack(b"\x05\x00\x00\x00{}")


def test_calls_return_values_and_put_back_changed_arguments(bridge):
    out, cache = bridge.lookup("affine")(np.ones((2, 3)), np.eye(3))
    assert np.array_equal(out, np.ones((2, 3))) and isinstance(cache, tuple)
    param = {"running_mean": np.zeros(3)}
    kept = param["running_mean"]
    bridge.lookup("mutate")(param)
    assert np.array_equal(param["running_mean"], np.ones(3)) and param["running_mean"] is kept
    array = np.zeros(2)
    bridge.lookup("grow")(array)
    assert np.array_equal(array, [1, 1])
    # Tensors too, changed in place as the public class-visualization step does.
    img = torch.zeros(2, 3, requires_grad=True)
    assert bridge.lookup("step")(img) is None
    assert torch.equal(img.detach(), torch.full((2, 3), 2.0)) and img.requires_grad
    params = {"w": torch.full((2,), 3.0)}
    kept_w = params["w"]
    bridge.lookup("nudge")(params)
    assert params["w"] is kept_w and torch.equal(kept_w, torch.full((2,), 6.0))
    unchanged = torch.tensor([1.0, float("nan")])
    bridge.lookup("keep")(unchanged)
    assert unchanged[0] == 1 and unchanged[1].isnan()


def test_student_objects_are_handles_with_one_proxy_each(bridge):
    net = bridge.lookup("Net")()
    assert type(net) is StudentProxy  # a handle, whatever __class__ says
    assert isinstance(net, torch.nn.Module) and isinstance(net.fc, torch.nn.Linear)
    assert net.fc is net.fc  # the same object of the student's: the same proxy
    assert tuple(net(torch.ones(1, 3)).shape) == (1, 2)
    # A lying __array__ runs in the student's process and sees nothing of the tests.
    assert np.array_equal(np.asarray(bridge.lookup("Liar")()), np.zeros(3))


def test_torch_objects_go_as_copies_whose_state_comes_back(bridge):
    model = torch.nn.Linear(3, 2).eval()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    before = model.weight.detach().clone()
    modes: list = []
    model.register_forward_pre_hook(lambda module, inputs: modes.append(module.training))
    bridge.lookup("train")(model, optimizer, torch.ones(4, 3))
    assert not torch.equal(before, model.weight), "the trained parameters did not come back"
    assert model.training and modes == [True] and optimizer.state_dict()["state"]


def test_callbacks_work_during_the_cell_and_are_revoked_after(bridge):
    assert np.array_equal(bridge.lookup("twice")(lambda x: x + 1, np.ones(2)), [4, 4])
    bridge.lookup("stash")(lambda x: x)
    bridge.revoke_all()  # the end of a test cell
    with pytest.raises(Exception, match="LookupError"):  # only the type crosses back
        bridge.lookup("use_stash")(1)


def test_errors_of_student_code_keep_their_type(bridge):
    with pytest.raises(TypeError, match="positional"):
        bridge.lookup("keep")(1, 2)
    with pytest.raises(NameError):
        bridge.lookup("no_such_name")


def test_what_a_call_prints_is_shown_on_the_test_side(bridge, capsys):
    assert bridge.lookup("noisy")(3) == 3
    assert "working" in capsys.readouterr().out


def test_resource_warnings_of_the_graders_process_do_not_fail_a_test_cell(bridge, monkeypatch):
    """Stop 30 and 32: on a Dask worker an event loop of the worker, collected during a
    test cell, wrote a ResourceWarning to the cell's stderr and cost a correct submission
    the cell. Real warnings still count."""
    import sys
    import warnings

    from nbformat.v4 import new_code_cell

    from cs231n_lib.grading.trusted import TestRunner

    # pytest records warnings; show them on stderr as a grading process does.
    def show(message):
        sys.stderr.write(warnings._formatwarnmsg(message))

    monkeypatch.setattr(warnings, "_showwarnmsg_impl", show)
    dropped = "import asyncio\nasyncio.new_event_loop()\nassert keep(2) == 2\n"
    warned = "import warnings\nwarnings.warn('a real warning')\n"
    cells = [
        new_code_cell(dropped, metadata={"nbgrader": {"grade": True, "grade_id": "t1"}}),
        new_code_cell(warned, metadata={"nbgrader": {"grade": True, "grade_id": "t2"}}),
    ]
    runner = TestRunner(bridge, cells, "demo.ipynb")
    outputs = runner.run_test(cells[0], 0, timeout=30)
    assert runner.record["t1"], outputs
    assert not [o for o in outputs if o.get("name") == "stderr"], outputs
    runner.run_test(cells[1], 1, timeout=30)
    assert runner.record["t2"] is False

"""The course's (out, cache) layer interface around a torch reference forward/backward pair.

A test that checks one function with a sibling it depends on (affine_relu_forward uses
affine_forward) puts this correct version of the sibling in place, so one bug costs the
points of one test cell:

    affine_forward, affine_backward = cached(reference.affine_forward, reference.affine_backward)

forward(*inputs) returns (out, cache) and backward(dout, cache) the reference's gradients,
both computed by torch; the cache is just the inputs.
"""

from __future__ import annotations

from collections.abc import Callable


def cached(forward: Callable, backward: Callable) -> tuple[Callable, Callable]:
    """(forward, backward) with the numpy layers' interface, computed by the reference.

    Inputs:
    - forward: a reference forward, forward(*inputs) -> out.
    - backward: its reference backward, backward(dout, *inputs) -> gradients.
    Returns forward(*inputs) -> (out, inputs) and backward(dout, cache) -> gradients.
    """

    def cached_forward(*inputs):
        return forward(*inputs), inputs

    def cached_backward(dout, cache):
        return backward(dout, *cache)

    cached_forward.__name__ = f"reference_{getattr(forward, '__name__', 'forward')}"
    cached_backward.__name__ = f"reference_{getattr(backward, '__name__', 'backward')}"
    return cached_forward, cached_backward

"""Tests of cs231n_lib.widgets: the figure is drawn at once and again on every change."""

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from cs231n_lib.widgets import make_controls  # noqa: E402


def figure_of(k):
    fig, ax = plt.subplots()
    ax.set_title(f"k = {k}")
    return fig


def shown(box):
    out = box.children[-1]
    return [o for o in out.outputs if o["output_type"] == "display_data"], out


def test_draws_now_and_on_every_change_without_leaking_figures():
    calls = []

    def draw(k, name):
        calls.append((k, name))
        return figure_of(k)

    slider = widgets.IntSlider(value=3, min=1, max=9)
    box = make_controls(draw, k=slider, name=widgets.Dropdown(options=["a", "b"]))
    assert calls == [(3, "a")]
    assert box.children[0] is slider and slider.description == "k"
    slider.value = 5
    assert calls[-1] == (5, "a")
    figures, _ = shown(box)
    assert len(figures) == 1 and "image/png" in figures[0]["data"]
    assert plt.get_fignums() == []  # every drawn figure is closed after it is shown


def test_prints_are_shown_and_later_errors_do_not_raise():
    def draw(k):
        if k > 5:
            raise ZeroDivisionError("too large")
        print(f"k is {k}")

    slider = widgets.IntSlider(value=1, min=1, max=9)
    box = make_controls(draw, k=slider)
    _, out = shown(box)
    assert out.outputs[0]["text"] == "k is 1\n"
    slider.value = 7
    assert out.outputs[0]["name"] == "stderr" and "too large" in out.outputs[0]["text"]


def test_first_error_raises_and_bad_controls_are_named():
    def broken(k):
        raise ValueError("broken draw")

    with pytest.raises(ValueError, match="broken draw"):
        make_controls(broken, k=widgets.IntSlider())
    with pytest.raises(TypeError, match="control 'k' must be an ipywidgets control"):
        make_controls(figure_of, k=(1, 10))
    with pytest.raises(ValueError, match="at least one control"):
        make_controls(figure_of)


def test_labels_are_shown_whole():
    """A long control name is not cut to "learning_r..." (ipywidgets' default 80 px)."""
    slider = widgets.FloatSlider(value=0.1, min=0.0, max=1.0)
    make_controls(lambda learning_rate: plt.figure(), learning_rate=slider)
    assert slider.description == "learning_rate"
    assert slider.style.description_width == "initial"

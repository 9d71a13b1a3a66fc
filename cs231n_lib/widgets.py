"""Interactive figures for notebooks: controls above a figure, redrawn when one changes.

    controls(draw_decision_regions, k=widgets.IntSlider(value=1, min=1, max=50))

shows the slider and the figure that `draw_decision_regions(k=1)` returns, and draws it
again whenever the slider moves. Use this instead of `ipywidgets.interact`.
"""

from __future__ import annotations

import contextlib
import io
import traceback
from collections.abc import Callable

import ipywidgets as widgets

# NOTE: `interact` captures plt.show() output in the frontend, which can leave a headless
# kernel waiting forever (nbclient issue 312); here the kernel puts the figure into an
# Output widget itself, which works with or without a browser.


def _png(fig):
    """The figure as a PNG image, as the inline backend would show it."""
    from IPython.display import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return Image(data=buffer.getvalue(), format="png")


def make_controls(draw: Callable, **controls: widgets.ValueWidget) -> widgets.VBox:
    """The controls and an Output with the figure `draw(**values)` returns, not yet shown.

    Inputs:
    - draw: a function of the controls' values by name; it returns a matplotlib Figure
      (shown as a PNG, then closed) or None (then only what it printed is shown).
    - controls: name -> an ipywidgets control with a `.value` (IntSlider, Dropdown, ...).
    Returns a VBox of the controls above the Output. The first drawing happens now, so an
    error in `draw` is raised here; errors on later changes show in the Output.
    """
    if not callable(draw):
        raise TypeError(f"draw must be a function of the controls, got {type(draw).__name__}")
    if not controls:
        raise ValueError("controls() needs at least one control, e.g. k=widgets.IntSlider()")
    for name, control in controls.items():
        if not isinstance(control, widgets.ValueWidget):
            raise TypeError(
                f"control {name!r} must be an ipywidgets control such as "
                f"widgets.IntSlider(...), got {control!r}"
            )
        if not control.description:
            control.description = name
        # The whole label, not "learning_r...": ipywidgets cuts descriptions at 80 px.
        style = getattr(control, "style", None)
        if style is not None and hasattr(style, "description_width"):
            style.description_width = "initial"
    out = widgets.Output()

    def render() -> None:
        import matplotlib.pyplot as plt

        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            fig = draw(**{name: control.value for name, control in controls.items()})
        out.outputs = ()
        if printed.getvalue():
            out.append_stdout(printed.getvalue())
        if fig is not None:
            out.append_display_data(_png(fig))
            plt.close(fig)

    def redraw(change=None) -> None:
        try:
            render()
        except Exception:  # noqa: BLE001  shown to the person moving the slider
            out.outputs = ()
            out.append_stderr(traceback.format_exc(limit=-3))

    render()
    for control in controls.values():
        control.observe(redraw, names="value")
    return widgets.VBox([*controls.values(), out])


def controls(draw: Callable, **controls: widgets.ValueWidget) -> None:
    """Show `make_controls(draw, **controls)`: the controls above the figure of `draw`."""
    from IPython.display import display

    display(make_controls(draw, **controls))

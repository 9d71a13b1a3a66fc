"""Student outputs and markdown reach feedback and the formgrader inert; nbgrader's own
autograde refuses.

Unit tests give `sanitize.sanitize_notebook` one payload at a time and check, with an
HTML parser of the tests' own (`live`), that nothing active is left: no script-like
element, no event handler, no javascript:/vbscript:/data: URL outside an image, no CSS
function; harmless outputs (plots, tables, LaTeX) and every course notebook come out
unchanged. Page tests render hostile notebooks as the formgrader and `nbgrader
generate_feedback` do with the course's nbgrader_config.py. The slow end-to-end tests
grade the 01_knn solution with hostile cells through the worker (full marks, no payload
in the autograded notebook or the feedback) and run plain `nbgrader autograde`.
"""

from __future__ import annotations

import contextlib
import copy
import html
import io
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import mistune
import nbformat
import pytest
from nbconvert.filters.markdown_mistune import markdown2html_mistune
from nbformat import NotebookNode

from cs231n_lib.grading import course, guard, sanitize

REPO = Path(__file__).resolve().parents[1]
MARK = "alert(1337)"  # what every payload would run
PNG = (  # a 1x1 image
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
SVG = "PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+PC9zdmc+"  # <svg onload=alert(1)></svg>
ACTIVE_TAGS = {
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "svg", "math",
    "style", "base", "link", "meta", "form", "input", "button", "noscript", "template",
}  # fmt: skip


class _Live(HTMLParser):
    """What a browser would run or load as active content in an HTML fragment."""

    def __init__(self, tags: bool):
        super().__init__(convert_charrefs=True)
        self.tags, self.found = tags, []

    def handle_starttag(self, tag, attrs):
        if self.tags and tag in ACTIVE_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            value = re.sub(r"[\x00-\x20\x7f-\xa0]", "", html.unescape(value or "")).lower()
            if name.startswith("on"):
                self.found.append(f"{name}= on <{tag}>")
            elif name in ("href", "src", "action", "formaction", "data", "xlink:href"):
                image = tag == "img" and re.match(r"data:image/(png|jpeg|gif);base64,", value)
                if value.startswith(("javascript:", "vbscript:")) or (
                    value.startswith("data:") and not image
                ):
                    self.found.append(f"{name}={value[:30]} on <{tag}>")
            elif name == "style" and re.search(r"(expression|url|image-set)\s*\(", value):
                self.found.append(f"style={value[:30]} on <{tag}>")
            elif name == "class" and "mermaid" in value:
                self.found.append(f"class={value} on <{tag}>")

    handle_startendtag = handle_starttag


def live(text: str, tags: bool = True) -> list[str]:
    """Active content in `text`; `tags=False` for whole pages, whose own template has
    scripts and styles."""
    parser = _Live(tags)
    parser.feed(text)
    parser.close()
    return parser.found


def _output(data: dict, metadata: dict | None = None) -> NotebookNode:
    return nbformat.v4.new_output("display_data", data=data, metadata=metadata or {})


def _notebook(*outputs, markdown: list[str] | None = None) -> NotebookNode:
    cells = [nbformat.v4.new_markdown_cell(m) for m in markdown or []]
    if outputs:
        code = nbformat.v4.new_code_cell("show()")
        code.outputs = list(outputs)
        cells.append(code)
    return nbformat.v4.new_notebook(cells=cells)


# --- HTML outputs ----------------------------------------------------------------------

HTML_PAYLOADS = {
    "script tag": f"<p>before</p><script>{MARK}</script>",
    "img onerror": f'<img src="x" onerror="{MARK}">',
    "upper-case ONERROR": f"<IMG SRC=x ONERROR={MARK}>",
    "svg onload": f"<svg onload={MARK}><circle r='1'/></svg>",
    "svg script": f"<svg><script>{MARK}</script></svg>",
    "iframe": f'<iframe src="javascript:{MARK}"></iframe>',
    "iframe srcdoc": f'<iframe srcdoc="<script>{MARK}</script>"></iframe>',
    "javascript href": f'<a href="javascript:{MARK}">x</a>',
    "obfuscated href": f'<a href=" JaVa&#x09;ScRiPt&colon;{MARK}">x</a>',
    "vbscript href": f'<a href="vbscript:{MARK}">x</a>',
    "data href": '<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>',
    "svg data image": f'<img src="data:image/svg+xml;base64,{SVG}">',
    "style expression": f'<div style="width: expression({MARK}); color: red">s</div>',
    "style url": f"<div style=\"background-image: url('javascript:{MARK}')\">s</div>",
    "style element": f"<style>body {{ background: url('javascript:{MARK}') }}</style>",
    "escaped css function": f'<div style="width: e\\xpression({MARK})">s</div>',
    "meta refresh": f'<meta http-equiv="refresh" content="0;url=javascript:{MARK}">',
    "base href": f'<base href="javascript:{MARK}//">',
    "object": f'<object data="javascript:{MARK}"></object>',
    "embed": f'<embed src="javascript:{MARK}">',
    "form": f'<form action="javascript:{MARK}"><button>go</button></form>',
    "noscript mutation": f'<noscript><p title="</noscript><img src=x onerror={MARK}>">',
    "math href": f'<math><mi xlink:href="javascript:{MARK}">x</mi></math>',
    "mermaid diagram": '<div class="mermaid">graph TD; A--&gt;B</div>',
}


@pytest.mark.parametrize("payload", HTML_PAYLOADS.values(), ids=HTML_PAYLOADS.keys())
def test_html_outputs_lose_everything_active(payload):
    nb = _notebook(_output({"text/html": payload, "text/plain": "<HTML>"}))
    removed = sanitize.sanitize_notebook(nb)
    data = nb.cells[0].outputs[0].data
    assert live(data["text/html"]) == [], data["text/html"]
    assert MARK not in data["text/html"] and data["text/plain"] == "<HTML>"
    assert removed and all(r.startswith("cell 1: ") for r in removed), removed
    assert MARK not in " ".join(removed)  # reports never quote the payload


def test_a_script_tag_split_by_another_stays_text():
    nb = _notebook(_output({"text/html": f"<scr<script>ipt>{MARK}</script>"}))
    sanitize.sanitize_notebook(nb)
    cleaned = nb.cells[0].outputs[0].data["text/html"]
    assert live(cleaned) == [] and "<script" not in cleaned.lower(), cleaned
    assert sanitize.clean_html(cleaned) == cleaned  # nothing left for a second pass


@pytest.mark.parametrize(
    "mime",
    [
        "application/javascript",
        "text/javascript",
        "application/x-javascript",
        "application/vnd.jupyter.widget-view+json",
        "image/svg+xml",
        "text/vnd.mermaid",
        "application/pdf",
        "text/x-unknown",
    ],
)
def test_other_mime_types_are_left_out_and_text_plain_stays(mime):
    value = {"model_id": MARK} if mime.endswith("+json") else MARK
    nb = _notebook(_output({mime: value, "text/plain": "shown instead"}), _output({mime: value}))
    removed = sanitize.sanitize_notebook(nb)
    assert nb.cells[0].outputs == [_output({"text/plain": "shown instead"})]  # 2nd is empty
    assert removed == [f"cell 1: {mime} output left out"] * 2


def test_widget_state_goes_and_only_widgets_make_no_note():
    nb = _notebook(_output({"application/vnd.jupyter.widget-view+json": {}, "text/plain": "w"}))
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": MARK}}
    removed = sanitize.sanitize_notebook(nb)
    assert "widgets" not in nb.metadata and MARK not in nbformat.writes(nb)
    assert sanitize.summary_note("knn.ipynb", removed) is None
    removed.append("cell 2: application/javascript output left out")
    note = sanitize.summary_note("knn.ipynb", removed)
    assert note.startswith("knn.ipynb: active content left out") and "cell 2" in note


def test_output_metadata_keeps_only_plain_image_sizes():
    attack = {"width": f"1 onload={MARK}", "height": 10}
    nb = _notebook(
        _output({"image/png": PNG}, {"image/png": attack, "needs_background": "light"}),
        _output({"text/html": "<b>x</b>"}, {"text/html": {"isolated": True}, "filenames": {}}),
    )
    sanitize.sanitize_notebook(nb)
    first, second = nb.cells[0].outputs
    assert first.metadata == {"image/png": {"height": 10}, "needs_background": "light"}
    assert second.metadata == {"text/html": {}}


def test_markdown_outputs_are_sanitized_like_markdown_cells():
    payload = f"[x](javascript:{MARK}) and <img src=x onerror={MARK}>"
    nb = _notebook(_output({"text/markdown": payload}))
    sanitize.sanitize_notebook(nb)
    shown = nb.cells[0].outputs[0].data["text/markdown"]
    assert MARK not in shown and live(markdown2html_mistune(shown)) == []


# --- markdown cells --------------------------------------------------------------------

MARKDOWN_PAYLOADS = {
    "script block": f"Answer:\n\n<script>{MARK}</script>\n\nthe end",
    "inline onerror": f"k = 3 is best <img src=x onerror={MARK}> because ...",
    "upper-case ONERROR": f"<IMG SRC=x ONERROR={MARK}>",
    "inline link": f"[my answer](javascript:{MARK})",
    "autolink": f"<javascript:{MARK}>",
    "reference link": f"[my answer][1]\n\n[1]: JaVaScRiPt:{MARK}",
    "entity link": f"[my answer](&#106;avascript:{MARK})",
    "image": f"![plot](javascript:{MARK})",
    "svg data image": f"![plot](data:image/svg+xml;base64,{SVG})",
    "nested script": f"<scr<script>ipt>{MARK}</script>",
    "iframe": f'<iframe src="javascript:{MARK}"></iframe>',
    "mermaid": "```mermaid\ngraph TD; A-->B\n```",
    "html in math": f"$x<script>{MARK}</script>$",  # the last: its text stays, escaped
}
RAW_HTML = mistune.create_markdown(escape=False)  # a renderer with no math and no filter


@pytest.mark.parametrize("payload", MARKDOWN_PAYLOADS.values(), ids=MARKDOWN_PAYLOADS.keys())
def test_markdown_cells_render_inert_in_any_renderer(payload):
    nb = _notebook(markdown=[payload])
    sanitize.sanitize_notebook(nb)
    source = nb.cells[0].source
    assert source != payload
    for rendered in (markdown2html_mistune(source), RAW_HTML(source), source):
        assert live(rendered) == [], rendered
    if "<script>" in payload and "$" not in payload:
        assert MARK not in source, source
    assert sanitize.sanitize_notebook(nb) == [] and nb.cells[0].source == source  # idempotent


def test_markdown_attachments_keep_only_raster_images():
    from nbconvert import HTMLExporter

    source = "![a](attachment:a.png) ![b](attachment:b.svg)"
    cell = nbformat.v4.new_markdown_cell(source)
    cell.attachments = {
        "a.png": {"image/png": PNG},
        "b.svg": {"image/svg+xml": SVG, "text/html": f"<script>{MARK}</script>"},
    }
    nb = nbformat.v4.new_notebook(cells=[cell])
    removed = sanitize.sanitize_notebook(nb)
    assert cell.attachments == {"a.png": {"image/png": PNG}}
    assert "cell 1: attachment b.svg (image/svg+xml)" in removed
    # nbconvert's own renderer raises on an image of a missing attachment: not this one,
    # and the sanitized cell renders with nbconvert's defaults.
    page = sanitize.render_markdown(source, cell.attachments)
    assert f"data:image/png;base64,{PNG}" in page and live(page) == []
    page, _ = HTMLExporter().from_notebook_node(nb)
    assert f"data:image/png;base64,{PNG}" in page and SVG not in page


HARMLESS_MARKDOWN = [
    "# Results\n\nThe *best* $k$ is 3: $\\|x - y\\|_2 > 0$ for $x \\neq y$.",
    "| k | accuracy |\n|---|---|\n| 1 | 0.9 |",
    "- a list with `<b>code</b>` and [a link](https://cs231n.github.io/) and [notes](#top)",
    "![plot](figures/loss.png)\n\n```python\nprint('<script>')\n```",
    "> quoted, with &amp; and 3 < 4",
]


@pytest.mark.parametrize("source", HARMLESS_MARKDOWN)
def test_markdown_without_html_or_bad_links_is_unchanged(source):
    nb = _notebook(markdown=[source])
    assert sanitize.sanitize_notebook(nb) == [] and nb.cells[0].source == source


def test_markdown_too_long_to_check_is_shown_as_text():
    fence_breaker = "```\n" + f"<script>{MARK}</script>\n" * 4000 + "`````\n"
    nb = _notebook(markdown=[fence_breaker])
    (note,) = sanitize.sanitize_notebook(nb)
    assert "shown as text" in note
    for rendered in (markdown2html_mistune(nb.cells[0].source), RAW_HTML(nb.cells[0].source)):
        assert live(rendered) == []


def test_raw_cells_are_cleaned():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_raw_cell(f"<script>{MARK}</script>ok")])
    sanitize.sanitize_notebook(nb)
    assert nb.cells[0].source == "ok"


# --- what must survive -----------------------------------------------------------------

TABLE = (
    '<div>\n<table border="1" class="dataframe">\n  <thead>\n'
    '    <tr style="text-align: right;">\n      <th></th>\n      <th>k</th>\n    </tr>\n'
    "  </thead>\n  <tbody>\n    <tr>\n      <th>0</th>\n      <td>3</td>\n    </tr>\n"
    "  </tbody>\n</table>\n</div>"
)


def test_harmless_outputs_survive_unchanged():
    nb = _notebook(
        _output({"image/png": PNG, "text/plain": "<Figure>"}, {"needs_background": "light"}),
        _output({"image/png": PNG}, {"image/png": {"width": 400, "height": 300}}),
        _output({"text/html": TABLE, "text/plain": "   k\n0  3"}),
        _output({"text/html": '<b>k</b> = <a href="https://example.org/?a=1&amp;b=2">3</a>'}),
        _output({"text/latex": "$$\\frac{1}{N} \\sum_i L_i < 1$$", "text/plain": "L"}),
        _output({"application/json": {"k": 3}, "image/gif": PNG, "image/jpeg": PNG}),
        nbformat.v4.new_output("stream", name="stdout", text=f"<script>{MARK}</script>\n"),
        nbformat.v4.new_output("error", ename="ValueError", evalue="<b>", traceback=["<i>"]),
    )
    before = copy.deepcopy(nb)
    assert sanitize.sanitize_notebook(nb) == []
    assert nb == before


@pytest.mark.parametrize(
    "path", sorted(REPO.glob("solutions/*/*.ipynb")), ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_course_notebooks_are_unchanged(path):
    nb = nbformat.read(path, as_version=4)
    before = copy.deepcopy(nb)
    assert sanitize.sanitize_notebook(nb) == [] and nb == before


TEXT_STAYS = {"autolink", "html in math"}  # the marker stays in their (inert) text


def _hostile_notebook() -> NotebookNode:
    outputs = [_output({"text/html": p}) for p in HTML_PAYLOADS.values()]
    outputs.append(_output({"application/javascript": MARK, "text/plain": "js"}))
    markdown = [p for name, p in MARKDOWN_PAYLOADS.items() if name not in TEXT_STAYS]
    nb = _notebook(*outputs, markdown=markdown)
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": MARK}}
    return nb


def test_sanitizing_twice_changes_nothing_more():
    nb = _hostile_notebook()
    assert sanitize.sanitize_notebook(nb)
    once = copy.deepcopy(nb)
    assert sanitize.sanitize_notebook(nb) == [] and nb == once


def test_html_beyond_what_is_checked_is_left_out():
    big = "<table>" + "<tr><td>1</td></tr>" * (sanitize.MAX_HTML // 15) + "</table>"
    medium = "<b>x</b>" * (sanitize.MAX_HTML // 10)  # under MAX_HTML; too many for the notebook
    count = sanitize.MAX_NOTEBOOK_HTML // len(medium) + 2
    mediums = [_output({"text/html": medium}) for _ in range(count)]
    nb = _notebook(_output({"text/html": big, "text/plain": "T"}), *mediums)
    removed = sanitize.sanitize_notebook(nb)
    assert nb.cells[0].outputs[0].data == {"text/plain": "T"}
    assert len(nb.cells[0].outputs) == count - 1  # the last two went over the budget
    assert sum("characters left out" in r for r in removed) == 3, removed


# --- pages: the formgrader's view and nbgrader's generate_feedback ----------------------


def _formgrader_page(config, nb: NotebookNode) -> str:
    """The formgrader's view of a submission, made as its handler makes it."""
    from nbconvert import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config import Config

    page_config = Config()
    page_config.merge(config)
    page_config.HTMLExporter.template_name = "formgrade"
    page_config.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    resources = {
        "assignment_id": "00_demo", "notebook_id": "demo", "submission_id": "1", "index": 0,
        "total": 1, "base_url": "", "student": "mallory", "last_name": None,
        "first_name": None, "notebook_path": "autograded/mallory/00_demo/demo.ipynb",
    }  # fmt: skip
    page, _ = HTMLExporter(config=page_config).from_notebook_node(nb, resources=resources)
    return page


def test_formgrader_page_of_an_unsanitized_notebook_is_inert(demo_course):
    from traitlets.config import Config

    config = course.make_api(demo_course).config  # the course's nbgrader_config.py
    own = live(_formgrader_page(config, nbformat.v4.new_notebook()), tags=False)  # onclick=
    page = _formgrader_page(config, _hostile_notebook())
    assert MARK not in page
    assert live(page, tags=False) == own
    assert "formgrade.js" in page  # still the formgrader's own page, scripts and all
    plain = _formgrader_page(Config(), _hostile_notebook())
    assert MARK in plain and live(plain, tags=False) != own, "payloads are live without the config"


def _run_cli(*args: str) -> int:
    from cs231n_lib import cli

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return cli.main(list(args))


@pytest.fixture
def released_demo(demo_course):
    """The demo course released, with mallory's solution submitted (not graded)."""
    assert _run_cli("--course", str(demo_course), "release") == 0
    folder = demo_course / "submitted" / "mallory" / "00_demo"
    folder.mkdir(parents=True)
    shutil.copy(demo_course / "solutions" / "00_demo" / "demo.ipynb", folder)
    return demo_course


@pytest.mark.slow
def test_nbgraders_generate_feedback_sanitizes_an_old_autograded_notebook(released_demo):
    from nbgrader.api import Gradebook

    root = released_demo
    with Gradebook(course.default_db_url(root)) as gradebook:
        gradebook.update_or_create_student("mallory")
        gradebook.update_or_create_submission("00_demo", "mallory")
    nb = nbformat.read(root / "assignments" / "00_demo" / "demo.ipynb", as_version=4)
    hostile = _hostile_notebook()
    nb.cells += hostile.cells
    nb.metadata["widgets"] = hostile.metadata["widgets"]
    graded = root / "autograded" / "mallory" / "00_demo"
    graded.mkdir(parents=True)
    nbformat.write(nb, graded / "demo.ipynb")

    outcome = course.make_api(root).generate_feedback("00_demo", "mallory")
    assert outcome["success"], outcome.get("error")
    page = (root / "feedback" / "mallory" / "00_demo" / "demo.html").read_text()
    assert MARK not in page and live(page, tags=False) == []
    assert "widget-state" not in page and "Score" in page  # nbgrader's feedback, scores and all


# --- nbgrader's own autograde refuses --------------------------------------------------


def _no_grade_written(root: Path) -> None:
    from nbgrader.api import Gradebook, MissingEntry

    assert not (root / "autograded").exists()
    with Gradebook(course.default_db_url(root)) as gradebook, pytest.raises(MissingEntry):
        gradebook.find_student("mallory")


@pytest.mark.slow
def test_formgraders_autograde_button_refuses(released_demo):
    # The button calls NbGraderAPI.autograde with the course's configuration.
    outcome = course.make_api(released_demo).autograde("00_demo", "mallory")
    assert not outcome["success"]
    assert guard.HOW_TO_AUTOGRADE in outcome["log"]
    assert outcome["error"].strip().endswith(guard.REFUSAL)
    _no_grade_written(released_demo)


@pytest.mark.slow
def test_plain_nbgrader_autograde_refuses(released_demo):
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [str(bin_dir / "nbgrader"), "autograde", "00_demo"],
        cwd=released_demo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert guard.HOW_TO_AUTOGRADE in done.stdout + done.stderr, done.stdout + done.stderr
    _no_grade_written(released_demo)


# --- end to end: the 01_knn solution with hostile cells, graded by the worker ----------

HOSTILE_CODE = """from IPython.display import HTML, Javascript, Markdown, SVG, display

M = "alert(" + str(1300 + 37) + ")"  # built here, so no cell source holds the payload
ON = "on" + "error"
display(HTML(f"<script>{M}</script><img src=x {ON}={M}><IMG SRC=y {ON.upper()}={M}>"))
display(HTML(f"<iframe src='java" + f"script:{M}'></iframe><a href='java" + f"script:{M}'>a</a>"))
display(HTML(f"<div style='width: expr" + f"ession({M})'>s</div><scr<script>ipt>x</script>"))
display(SVG(f"<svg xmlns='http://www.w3.org/2000/svg' onload='{M}'/>"))
display(Javascript(M))
display({"text/javascript": M, "text/plain": "js"}, raw=True)
display({"application/vnd.jupyter.widget-view+json": {"model_id": M}, "text/plain": "w"}, raw=True)
display(Markdown(f"[click](java" + f"script:{M})"))
"""


@pytest.mark.slow
def test_hostile_outputs_leave_grading_unchanged_and_pages_inert(tmp_path):
    from cs231n_lib.grading import sandbox
    from cs231n_lib.grading.intake import Submission
    from cs231n_lib.grading.scale import make_bundle
    from cs231n_lib.grading.worker import grade_submission

    root = tmp_path / "course"
    (root / "solutions").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "solutions" / "01_knn", root / "solutions" / "01_knn")
    bundle = make_bundle(root, "01_knn", sandbox_info=sandbox.detect_sandbox("auto"))
    nb = nbformat.read(REPO / "solutions" / "01_knn" / "knn.ipynb", as_version=4)
    hostile_markdown = (
        "Inline answer <img src=x onerror=alert(1337)> [see](javascript:alert(1337))\n\n"
        "<script>alert(1337)</script>"
    )
    nb.cells += [
        nbformat.v4.new_code_cell(HOSTILE_CODE),
        nbformat.v4.new_markdown_cell(hostile_markdown),
    ]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": MARK}}

    result = grade_submission(
        Submission("mallory", {"knn.ipynb": nbformat.writes(nb).encode()}), bundle
    )
    assert result.success, result.error
    short = {
        c.grade_id: c.status
        for c in result.cells
        if c.status != "manual" and c.score != c.max_score
    }
    assert not short, f"the hostile cells cost points: {short}"
    autograded = result.autograded["knn.ipynb"].decode()
    page = result.feedback["knn.html"].decode()
    for name, text in [("autograded notebook", autograded), ("feedback", page)]:
        assert MARK not in text and "onerror" not in text.lower(), name
    graded = nbformat.reads(autograded, as_version=4)
    shown = [
        value
        for cell in graded.cells
        for output in cell.get("outputs", [])
        for value in output.get("data", {}).values()
        if isinstance(value, str)
    ] + [cell.source for cell in graded.cells if cell.cell_type == "markdown"]
    assert [problem for text in shown for problem in live(text)] == []
    assert live(page, tags=False) == []
    assert "widgets" not in graded.metadata
    note = next(n for n in result.notes if n.startswith("knn.ipynb: active content left out"))
    assert "<script>" in note and "application/javascript" in note

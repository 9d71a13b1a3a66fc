"""Student outputs and markdown made inert before an instructor's page shows them.

Autograded notebooks are rendered by the formgrader on the Jupyter server's origin, and
feedback HTML is opened by students and instructors: anything live in them (a `<script>`,
an `onerror=`, a JavaScript output, widget state that loads widget JavaScript, a
`javascript:` link) would run with their rights. So, before either is made:

- `sanitize_notebook` keeps, of every code cell output, only the MIME types of
  `ALLOWED_MIME`: HTML through an allowlist of tags, attributes, URL schemes and CSS
  declarations (bleach, with script-like elements dropped with their content), markdown
  through the same renderer nbconvert uses, then the same HTML allowlist; output metadata
  only image sizes; markdown and raw cells the same way, attachments only PNG, JPEG, GIF;
  the notebook's widget state is dropped;
- `exporter_config` makes every HTMLExporter of the course (nbgrader's feedback, the
  formgrader's pages) run `SanitizeNotebook` first and render markdown and HTML through
  `markdown2html` and `clean_html`, so pages made from notebooks sanitized by nothing
  else (an older grading run) are safe too.

Checking HTML is slow (pure-Python HTML5 parsing): a notebook's HTML is checked up to
`MAX_NOTEBOOK_HTML` characters and `MAX_HTML` per output; beyond, HTML outputs are left
out (their text/plain stays) and markdown is shown as text.
"""

from __future__ import annotations

import html
import re
import threading
from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import bleach
import tinycss2
from bleach.css_sanitizer import ALLOWED_CSS_PROPERTIES
from bleach.html5lib_shim import Filter
from jinja2 import pass_context
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool
from traitlets.config import Config

from cs231n_lib.grading.escape import cap_text

ALLOWED_MIME = {
    "text/plain",
    "text/html",  # sanitized
    "text/markdown",  # sanitized
    "text/latex",  # shown escaped; MathJax runs with its Safe extension
    "image/png",
    "image/jpeg",
    "image/gif",
    "application/json",  # never rendered as HTML
}
ATTACHMENT_MIME = {"image/png", "image/jpeg", "image/gif"}
WIDGET_MIME_PREFIX = "application/vnd.jupyter.widget"  # every notebook with controls has these
MAX_HTML = 50_000  # characters of one output's HTML (or one markdown cell) that are checked
MAX_NOTEBOOK_HTML = 300_000  # characters of HTML checked per notebook (about 1 s at worst)
MAX_RENDERED = 2_000_000  # characters a page's filter cleans at once; beyond, shown as text
MAX_REPORTED = 5  # removals named in a note

TAGS = {
    "a", "abbr", "acronym", "b", "bdi", "bdo", "blockquote", "br", "caption", "cite", "code",
    "col", "colgroup", "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption",
    "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark",
    "ol", "p", "pre", "q", "rp", "rt", "ruby", "s", "samp", "small", "span", "strike",
    "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time",
    "tr", "tt", "u", "ul", "var", "wbr",
}  # fmt: skip
# Dropped with everything inside them (other tags outside TAGS lose the tag, keep the text).
DROP_WITH_CONTENT = {
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "param",
    "noscript", "noembed", "noframes", "template", "svg", "math", "textarea", "select",
    "xmp", "plaintext", "title", "head", "audio", "video", "canvas", "base", "link", "meta",
}  # fmt: skip
GLOBAL_ATTRIBUTES = {"class", "title", "lang", "dir", "style", "align"}
TAG_ATTRIBUTES = {
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "table": {"border", "cellpadding", "cellspacing", "width", "summary"},
    "td": {"colspan", "rowspan", "valign", "width", "height"},
    "th": {"colspan", "rowspan", "valign", "width", "height", "scope"},
    "col": {"span", "width"},
    "colgroup": {"span", "width"},
    "ol": {"start", "type", "reversed"},
    "li": {"value"},
    "details": {"open"},
    "time": {"datetime"},
}
LINK_SCHEMES = {"http", "https", "mailto"}
IMAGE_DATA = re.compile(r"data:image/(png|jpeg|gif);base64,")
CSS_FUNCTIONS = {"rgb", "rgba", "hsl", "hsla"}
CSS_TOKENS = {"ident", "number", "percentage", "dimension", "hash", "whitespace", "literal"}
IMAGE_METADATA = {"width", "height", "unconfined", "alt", "needs_background"}

_SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):")
_URL_JUNK = re.compile(r"[`\x00-\x20\x7f-\xa0\s]+|[^\x00-\x7f]")
_DROP_HINT = re.compile(r"<\s*/?\s*(" + "|".join(sorted(DROP_WITH_CONTENT)) + r")\b", re.I)
_CSS_CALL = re.compile(r"([\w\\-]+)\s*\(")
_TAG_LIKE = re.compile(r"<[a-zA-Z/!?]")
_SANITIZED = "cs231n-sanitized"  # class of the block that replaces markdown with HTML in it
_AS_TEXT_NOTE = "*[shown as text: the grader does not render this markdown]*"
_DONE = "cs231n_sanitized"  # resources flag: one sanitizing per conversion is enough


# --- URLs and CSS ----------------------------------------------------------------------


def safe_url(url: str, image: bool = False) -> bool:
    """Whether `url` may be a link (or, with `image`, an image source): relative, http(s),
    mailto; for images also data:image/png|jpeg|gif. Entities, case, whitespace and
    control characters are normalized first, as browsers do."""
    normalized = _URL_JUNK.sub("", html.unescape(str(url))).lower()
    scheme = _SCHEME.match(normalized)
    if scheme is None:
        return True
    if scheme.group(1) in LINK_SCHEMES:
        return True
    return image and IMAGE_DATA.match(normalized) is not None


class _StrictCSS:
    """bleach's CSS hook: declarations of allowed properties whose values are plain
    (words, numbers, lengths, colours); no url(), expression() or other functions."""

    def sanitize_css(self, style: str) -> str:
        kept, dropped = [], False
        for item in tinycss2.parse_blocks_contents(style, skip_comments=True):
            if item.type in ("whitespace", "comment"):
                continue
            plain = item.type == "declaration" and item.lower_name in ALLOWED_CSS_PROPERTIES
            if plain and all(_plain_css(token) for token in item.value):
                value = tinycss2.serialize(item.value).strip()
                kept.append(f"{item.lower_name}: {value}{' !important' if item.important else ''}")
            else:
                dropped = True
        # Nothing left out: the author's own text (same declarations), e.g. its final ";".
        return "; ".join(kept) if dropped else style.strip()


def _plain_css(token) -> bool:
    if token.type == "function":
        return token.lower_name in CSS_FUNCTIONS and all(
            t.type in CSS_TOKENS for t in token.arguments
        )
    return token.type in CSS_TOKENS or token.type == "string"


# --- HTML ------------------------------------------------------------------------------


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    if name not in GLOBAL_ATTRIBUTES and name not in TAG_ATTRIBUTES.get(tag, ()):
        return False
    if name in ("href", "src"):
        return safe_url(value, image=(tag == "img"))
    if name == "class":
        return "mermaid" not in value.lower()  # the page's mermaid.js would run on it
    return True


class _DropContent(Filter):
    """html5lib filter: leaves out DROP_WITH_CONTENT elements and everything inside."""

    def __iter__(self):
        depth = 0
        for token in super().__iter__():
            if token.get("name") in DROP_WITH_CONTENT:
                if token["type"] == "StartTag":
                    depth += 1
                elif token["type"] == "EndTag":
                    depth = max(depth - 1, 0)
                continue
            if depth == 0:
                yield token


_local = threading.local()  # bleach's cleaners are not thread-safe


def _cleaners() -> tuple[bleach.Cleaner, bleach.Cleaner]:
    if not hasattr(_local, "cleaners"):
        common = dict(
            attributes=_allowed_attribute,
            protocols=LINK_SCHEMES | {"data"},  # data: only passes safe_url in img src
            strip=True,
            strip_comments=True,
            css_sanitizer=_StrictCSS(),
        )
        dropper = bleach.Cleaner(tags=TAGS | DROP_WITH_CONTENT, filters=[_DropContent], **common)
        _local.cleaners = dropper, bleach.Cleaner(tags=TAGS, **common)
    return _local.cleaners


def clean_html(element) -> str:
    """HTML (str or UTF-8 bytes) with only allowlisted tags, attributes, URLs and CSS.

    Two passes: the first takes out script-like elements with their content, the second,
    bleach's own allowlist, is what makes the result safe whatever the first did. Also
    the `clean_html` filter of the course's HTML pages.
    """
    text = element.decode("utf-8", "replace") if isinstance(element, bytes) else str(element)
    dropper, strict = _cleaners()
    if _DROP_HINT.search(text):
        text = dropper.clean(text)
    return strict.clean(text)


def url_scheme(url: str) -> str:
    """The scheme of `url` as a browser reads it ("javascript", "data"; "" if relative)."""
    scheme = _SCHEME.match(_URL_JUNK.sub("", html.unescape(str(url))).lower())
    return cap_text(scheme.group(1), 20) if scheme else ""


class _Inventory(HTMLParser):
    """Counts what cleaning removes that could be active, in words that never quote the
    student's text: script-like tags by name, other unknown tags, event handlers, URLs
    by scheme, CSS functions (only to say what was removed; benign attributes are not
    counted)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: Counter = Counter()

    def handle_starttag(self, tag, attrs):
        if tag in DROP_WITH_CONTENT:
            self.found[f"<{tag}>"] += 1
        elif tag not in TAGS:
            self.found["other tags"] += 1
        for name, value in attrs:
            if name.startswith("on"):
                self.found["on* event handlers"] += 1
            elif name in ("href", "src", "action", "formaction", "xlink:href", "data"):
                if not safe_url(value or "", image=(tag == "img")):
                    self.found[f"{url_scheme(value or '')}: URLs"] += 1
            elif name == "class" and "mermaid" in (value or "").lower():
                self.found["mermaid diagrams"] += 1
            elif name == "style":
                functions = {f.lower() for f in _CSS_CALL.findall(value or "")}
                if functions - CSS_FUNCTIONS:
                    self.found["CSS functions"] += 1

    handle_startendtag = handle_starttag


def _inventory(text: str) -> Counter:
    parser = _Inventory()
    parser.feed(text)
    parser.close()
    return parser.found


def _removed_items(before: str, after: str) -> list[str]:
    """What `before` had and `after` no longer has, for a report."""
    return sorted(_inventory(before) - _inventory(after))


@dataclass
class _Budget:
    """Characters of HTML that may still be checked in this notebook."""

    left: int = MAX_NOTEBOOK_HTML

    def take(self, text: str) -> bool:
        if len(text) > MAX_HTML or len(text) > self.left:
            return False
        self.left -= len(text)
        return True


# --- markdown --------------------------------------------------------------------------


def _markdown(renderer=None):
    from nbconvert.filters.markdown_mistune import MarkdownWithMath

    return MarkdownWithMath(renderer=renderer)


def _walk(tokens):
    for token in tokens:
        yield token
        yield from _walk(token.get("children") or [])


def _markdown_problems(source: str, attachments: dict) -> list[str]:
    """Why this markdown needs sanitizing ([] if it has no raw HTML, no tag-like text in
    math that a renderer without math would take for HTML, no mermaid diagram, no bad
    URL), as parsed by the parser nbconvert renders with."""
    problems = []
    for token in _walk(_markdown().parse(source)[0]):
        kind, attrs = token.get("type"), token.get("attrs") or {}
        if kind in ("inline_html", "block_html"):
            problems.append("raw HTML")
        elif kind in ("inline_math", "block_math", "latex_environment"):
            if _TAG_LIKE.search(str(token.get("raw", "")) + str(attrs.get("body", ""))):
                problems.append("raw HTML")
        elif kind == "block_code" and str(attrs.get("info", "")).startswith("mermaid"):
            problems.append("mermaid diagrams")  # nbconvert's pages run mermaid.js on them
        url = attrs.get("url")
        if url is None:
            continue
        image = kind == "image"
        if image and url.startswith("attachment:"):
            if url[len("attachment:") :] not in attachments:
                problems.append("images of missing attachments")
        elif not safe_url(url, image):
            problems.append(f"{url_scheme(url)}: {'images' if image else 'links'}")
    return problems


def render_markdown(source: str, attachments: dict | None = None, path: str = "") -> str:
    """Markdown to HTML as nbconvert's HTMLExporter renders it (math kept for MathJax),
    unsanitized; an image of an attachment that is not there is an empty PNG rather than
    nbconvert's InvalidNotebook error."""
    from nbconvert.filters.markdown_mistune import IPythonRenderer

    bundles = {k: v for k, v in (attachments or {}).items() if isinstance(v, dict) and v}
    for token in _walk(_markdown().parse(source)[0]):
        url = (token.get("attrs") or {}).get("url") or ""
        if token.get("type") == "image" and url.startswith("attachment:"):
            bundles.setdefault(url[len("attachment:") :], {"image/png": ""})
    renderer = IPythonRenderer(escape=False, attachments=bundles, path=path)
    return _markdown(renderer).render(source)


def _as_text(source: str) -> str:
    """Markdown that shows `source` verbatim in a fence no line of it can close."""
    longest = max((len(run) for run in re.findall(r"`+", source)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{_AS_TEXT_NOTE}\n\n{fence}text\n{source}\n{fence}\n"


def _as_html_block(safe_html: str) -> str:
    """Sanitized HTML as markdown that renders it unchanged: one HTML block (no blank
    line ends it early; a blank line inside <pre> stays one, as an entity)."""
    block = safe_html.strip()
    if not block.startswith(f'<div class="{_SANITIZED}">'):
        block = f'<div class="{_SANITIZED}">\n{block}\n</div>'
    while re.search(r"\n[ \t]*\n", block):
        block = re.sub(r"\n[ \t]*\n", "\n&#10;", block)
    return block


def sanitize_markdown(
    source: str, attachments: dict | None = None, budget: _Budget | None = None
) -> tuple[str, list[str]]:
    """(markdown, what was removed): `source` unchanged if it has no raw HTML and no
    unsafe URL; else its sanitized rendering, as one HTML block; shown as text if it is
    longer than MAX_HTML, its rendering is more than `budget` allows, or it cannot be
    rendered."""
    if len(source) > MAX_HTML:
        return _as_text(source), [f"markdown of {len(source):,} characters shown as text"]
    try:
        problems = _markdown_problems(source, attachments or {})
        if not problems:
            return source, []
        rendered = render_markdown(source, attachments)
    except Exception as exc:  # noqa: BLE001  a renderer's failure on hostile input
        return _as_text(source), [f"markdown shown as text ({type(exc).__name__})"]
    if not (budget or _Budget()).take(rendered):
        return _as_text(source), ["markdown with more HTML than is checked shown as text"]
    safe = _as_html_block(clean_html(rendered))
    if safe == source.strip():
        return source, []  # already the output of this function
    missing = [p for p in problems if p == "images of missing attachments"][:1]
    return safe, _removed_items(rendered, safe) + missing


@pass_context
def markdown2html(context, source: str) -> str:
    """The course pages' `markdown2html` filter: nbconvert's rendering, then clean_html."""
    cell = context.get("cell") or {}
    attachments = cell.get("attachments") if hasattr(cell, "get") else None
    path = (context.get("resources") or {}).get("metadata", {}).get("path", "")
    try:
        rendered = render_markdown(
            str(source), attachments if isinstance(attachments, dict) else None, path
        )
    except Exception:  # noqa: BLE001  hostile markdown the renderer chokes on
        rendered = f"<pre>{html.escape(str(source))}</pre>"
    if len(rendered) > MAX_RENDERED:
        return f"<pre>{html.escape(str(source))}</pre>"
    return clean_html(rendered)


# --- notebooks -------------------------------------------------------------------------


def _text(value):
    """A MIME value as one string (nbformat keeps some as lists of lines); None if it is
    neither."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return value if isinstance(value, str) else None


def _sanitize_output(output: dict, where: str, budget: _Budget) -> list[str]:
    removed = []
    data = output.get("data")
    if not isinstance(data, dict):
        return removed
    for mime in list(data):
        text = _text(data[mime])
        if mime not in ALLOWED_MIME or (mime != "application/json" and text is None):
            del data[mime]
            removed.append(f"{where}: {cap_text(mime, 80)} output left out")
        elif mime in ("text/html", "text/markdown") and not budget.take(text):
            del data[mime]
            removed.append(f"{where}: {mime} output of {len(text):,} characters left out")
        elif mime == "text/html":
            data[mime] = clean_html(text)
            items = _removed_items(text, data[mime])
            removed += [f"{where}: {', '.join(items)} removed from text/html"] if items else []
        elif mime == "text/markdown":
            data[mime], items = sanitize_markdown(text)
            removed += [f"{where}: {', '.join(items)} removed from text/markdown"] if items else []
    if "metadata" in output:
        output["metadata"] = _output_metadata(output["metadata"])
    return removed


def _output_metadata(metadata) -> dict:
    """Only what image outputs use, with plain values: nbconvert writes `width`,
    `height` unquoted into <img>, and `isolated` HTML into an iframe."""

    def plain(key, value) -> bool:
        if key in ("width", "height"):
            return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
        if key == "unconfined":
            return isinstance(value, bool)
        return key in IMAGE_METADATA and isinstance(value, str)

    if not isinstance(metadata, dict):
        return {}
    kept = {}
    for key, value in metadata.items():
        if key in ALLOWED_MIME and isinstance(value, dict):
            kept[key] = {k: v for k, v in value.items() if plain(k, v)}
        elif plain(key, value):
            kept[key] = value
    return kept


def _sanitize_attachments(cell: dict, where: str) -> list[str]:
    removed = []
    attachments = cell.get("attachments")
    if attachments is None:
        return removed
    if not isinstance(attachments, dict):
        del cell["attachments"]
        return [f"{where}: attachments left out"]
    for name in list(attachments):
        bundle = attachments[name] if isinstance(attachments[name], dict) else {}
        for mime in [m for m in bundle if m not in ATTACHMENT_MIME or _text(bundle[m]) is None]:
            del bundle[mime]
            removed.append(f"{where}: attachment {cap_text(name, 60)} ({cap_text(mime, 60)})")
        if not bundle:
            del attachments[name]
    return removed


def _sanitize_text_cell(cell: dict, where: str, budget: _Budget) -> list[str]:
    removed = _sanitize_attachments(cell, where)
    source = _text(cell.get("source")) or ""
    if cell.get("cell_type") == "markdown":
        new, items = sanitize_markdown(source, cell.get("attachments"), budget)
    elif "<" in source or "&" in source:  # raw cells: nbconvert shows them as HTML
        new = clean_html(source) if budget.take(source) else html.escape(source)
        items = _removed_items(source, new)
    else:
        new, items = source, []
    cell["source"] = new
    return removed + ([f"{where}: {', '.join(items)} removed from the cell"] if items else [])


def sanitize_notebook(nb) -> list[str]:
    """Make every output, markdown and raw cell of `nb` (a NotebookNode or dict, changed
    in place) safe to render as HTML; returns what was removed, one line each, such as
    "cell 3: application/javascript output left out"."""
    removed = []
    metadata = nb.get("metadata")
    if isinstance(metadata, dict) and "widgets" in metadata:
        del metadata["widgets"]
        removed.append("notebook: widget state left out")
    budget = _Budget()
    for number, cell in enumerate(nb.get("cells") or [], 1):
        if not isinstance(cell, dict):
            continue
        where = f"cell {number}"
        if cell.get("cell_type") == "code":
            for output in cell.get("outputs") or []:
                if isinstance(output, dict):
                    removed += _sanitize_output(output, where, budget)
            cell["outputs"] = [
                o
                for o in cell.get("outputs") or []
                if not isinstance(o, dict) or "data" not in o or o["data"]
            ]
        elif cell.get("cell_type") in ("markdown", "raw"):
            removed += _sanitize_text_cell(cell, where, budget)
    return removed


def summary_note(notebook: str, removed: list[str]) -> str | None:
    """One note for the grading record about what `sanitize_notebook` removed, None if
    only what every notebook with controls loses (widget views and state)."""
    worth = [r for r in removed if WIDGET_MIME_PREFIX not in r and "widget state" not in r]
    if not worth:
        return None
    shown = "; ".join(worth[:MAX_REPORTED]) + (
        f"; {len(worth) - MAX_REPORTED} more" if len(worth) > MAX_REPORTED else ""
    )
    return cap_text(
        f"{notebook}: active content left out of the autograded notebook and feedback ({shown})"
    )


def sanitize_files(folder: Path, names) -> list[str]:
    """Sanitize the notebooks `names` in `folder` in place (those nbformat can read: the
    others no page can render either); returns notes for the grading record."""
    import nbformat

    notes = []
    for name in names:
        path = Path(folder) / name
        if not path.is_file():
            continue
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # noqa: BLE001  not a notebook: nothing renders it
            continue
        try:
            note = summary_note(name, sanitize_notebook(nb))
            text = nbformat.v4.writes_json(nb) + "\n"
        except Exception as exc:  # noqa: BLE001  a structure too broken to walk
            path.replace(path.with_name(f"{name}.unsafe"))
            notes.append(
                f"{name} cannot be shown safely ({type(exc).__name__}); kept as {name}.unsafe"
            )
            continue
        mode = path.stat().st_mode
        path.unlink()  # nbgrader leaves it read-only
        path.write_text(text, encoding="utf-8")
        path.chmod(mode)
        notes += [note] if note else []
    return notes


class SanitizeNotebook(Preprocessor):
    """nbconvert preprocessor: `sanitize_notebook` on the notebook being converted (once
    per conversion, however many exporters and converters list it)."""

    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb, resources):
        if not resources.get(_DONE):
            sanitize_notebook(nb)
            resources[_DONE] = True
        return nb, resources


def exporter_config() -> Config:
    """Config for every HTMLExporter of the course (feedback, formgrader pages): sanitize
    the notebook first, render no JavaScript or widget outputs, and clean markdown and
    HTML through this module's filters."""
    config = Config()
    config.HTMLExporter.sanitize_html = True
    config.HTMLExporter.preprocessors = [f"{__name__}.SanitizeNotebook"]
    config.HTMLExporter.filters = {
        "clean_html": f"{__name__}.clean_html",
        "markdown2html": f"{__name__}.markdown2html",
    }
    return config

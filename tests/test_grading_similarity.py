"""The instructor's similarity report: normalization, scores, and `cs231n similarity`."""

from __future__ import annotations

import ast
import random
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from cs231n_lib.cli import main
from cs231n_lib.grading import similarity
from cs231n_lib.grading.course import CourseError

REPO = Path(__file__).resolve().parents[1]

TWO_LOOPS = '''
def compute_distances_two_loops(X, X_train):
    """L2 distances, one pair at a time."""
    num_test, num_train = X.shape[0], X_train.shape[0]
    dists = np.zeros((num_test, num_train))
    for i in range(num_test):
        for j in range(num_train):
            dists[i, j] = np.sqrt(np.sum((X[i] - X_train[j]) ** 2))
    return dists
'''

# The same code with every local renamed: what a student who copied it would hand in.
RENAMED = """
def compute_distances_two_loops(queries, train):
    m, n = queries.shape[0], train.shape[0]
    out = np.zeros((m, n))
    for row in range(m):
        for col in range(n):
            out[row, col] = np.sqrt(np.sum((queries[row] - train[col]) ** 2))
    return out
"""

# The same code reformatted: spacing, comments, a new docstring, type hints, a `pass`.
REFORMATTED = '''
def compute_distances_two_loops(X: np.ndarray, X_train: np.ndarray) -> np.ndarray:
    """My own docstring, which says something else entirely."""
    num_test , num_train = ( X.shape[ 0 ],
                             X_train.shape[0] )   # sizes
    dists: np.ndarray = np.zeros( ( num_test, num_train ) )
    # loop over everything
    for i in range( num_test ):
        for j in range(num_train):
            pass
            dists[i,j] = np.sqrt(np.sum((X[i]-X_train[j])**2))
    return dists
'''

# A genuinely different algorithm for the same task.
NO_LOOPS = """
def compute_distances_two_loops(X, X_train):
    test_sq = np.sum(X**2, axis=1)[:, None]
    train_sq = np.sum(X_train**2, axis=1)[None, :]
    sq_dists = test_sq - 2 * X @ X_train.T + train_sq
    return np.sqrt(np.maximum(sq_dists, 0))
"""

KEEP = frozenset({"np"})


# ---- normalization and scores -------------------------------------------------------------


def test_renamed_copy_scores_at_least_095():
    score, method = similarity.code_similarity(TWO_LOOPS, RENAMED, KEEP)
    assert method == "ast"
    assert score >= 0.95, score


def test_reformatted_copy_scores_one():
    assert similarity.code_similarity(TWO_LOOPS, REFORMATTED, KEEP) == (1.0, "ast")


def test_different_algorithm_scores_well_below_threshold():
    score, _ = similarity.code_similarity(TWO_LOOPS, NO_LOOPS, KEEP)
    assert score < similarity.DEFAULT_THRESHOLD - 0.3, score


def test_library_attributes_and_numbers_count_strings_and_locals_do_not():
    tokens = similarity.normalize("total = np.sum(x, axis=1) + 2", KEEP).ast
    assert ".sum" in tokens and "np" in tokens and "2" in tokens and "axis" in tokens
    assert "total" not in tokens and "x" not in tokens
    assert similarity.code_similarity("a = np.sum(x)", "b = np.mean(y)", KEEP)[0] < 1.0
    assert similarity.code_similarity("a = 2 * x", "a = 3 * x", KEEP)[0] < 1.0
    assert similarity.code_similarity("print('left')", "print('right')")[0] == 1.0
    # builtins and imported names stay, so a student's `len` is not the same as `sum`
    assert similarity.code_similarity("n = len(x)", "n = sum(x)")[0] < 1.0
    assert "math" in similarity.normalize("import math\ny = math.exp(x)").ast


def test_names_are_numbered_in_order_of_first_appearance():
    tokens = similarity.normalize("b = a + 1\nc = b * a").ast
    names = [t for t in tokens if re.fullmatch(r"v\d+", t)]
    assert names == ["v0", "v1", "v2", "v0", "v1"], tokens


def test_calls_keep_their_structure():
    nested = similarity.normalize("f(g(x), y)").ast
    assert nested != similarity.normalize("f(g(x, y))").ast


def test_similarity_is_symmetric_and_in_range():
    rng = random.Random(0)
    sources = [TWO_LOOPS, RENAMED, REFORMATTED, NO_LOOPS, "x = 1", "def f():\n    return 2"]
    for a in sources:
        for b in sources:
            forward, backward = similarity.code_similarity(a, b), similarity.code_similarity(b, a)
            assert forward == backward and 0.0 <= forward[0] <= 1.0
    for _ in range(200):
        a = [rng.choice("abcd") for _ in range(rng.randrange(1, 30))]
        b = [rng.choice("abcd") for _ in range(rng.randrange(1, 30))]
        assert similarity.similarity(a, b) == similarity.similarity(b, a)
    assert similarity.similarity([], ["x"]) == 0.0


def test_cell_that_does_not_parse_is_compared_as_tokens():
    broken = TWO_LOOPS.replace("return dists", "return dists +")
    assert similarity.normalize(broken).ast is None
    score, method = similarity.code_similarity(broken, RENAMED, KEEP)
    assert method == "tokens" and score >= 0.9, score
    tokens = similarity.text_tokens("s = 'a' # comment\nt = s.upper()")
    assert tokens == ("v0", "=", "<str>", "v1", "=", "v0", ".", "upper", "(", ")")


def test_magics_are_dropped_and_floods_do_not_crash():
    assert similarity.normalize("%time y = f(x)\n!ls").ast is not None
    deep = "x = " + "-" * 100_000 + "1"
    assert similarity.normalize(deep).ast is None  # too deep to parse: tokens
    long_chain = "x = " + " + ".join(["a"] * 2_000)  # a tree 2,000 deep: parses
    assert sys.getrecursionlimit() < 2_000
    assert len(similarity.normalize(long_chain).ast) > 4_000  # and the walk does not recurse


RELEASED_STUB = """
def compute_distances_two_loops(X, X_train):
    num_test, num_train = X.shape[0], X_train.shape[0]
    dists = np.zeros((num_test, num_train))
    # YOUR CODE HERE
    raise NotImplementedError()
    return dists
"""


def test_own_tokens_remove_the_released_skeleton():
    released = similarity.normalize(RELEASED_STUB, KEEP).ast
    mine = similarity.normalize(TWO_LOOPS, KEEP).ast
    own = similarity.own_tokens(mine, released)
    assert 0 < len(own) < len(mine) / 2
    assert ".zeros" not in own and ".sqrt" in own and "NotImplementedError" not in own


# ---- a scratch course with three students -------------------------------------------------


def _code_cells(path: Path) -> tuple[nbformat.NotebookNode, dict]:
    """The notebook at `path` and its cells by grade_id."""
    nb = nbformat.read(path, as_version=4)
    return nb, {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}


def _submit(course: Path, student: str, assignment: str, name: str, edits: dict) -> None:
    """Submit the release notebook with `edits` (grade_id -> new source) applied."""
    nb, cells = _code_cells(course / "assignments" / assignment / name)
    for cell_id, source in edits.items():
        cells[cell_id].source = source
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / name)


def _solution(assignment: str, name: str, cell_id: str) -> str:
    return _code_cells(REPO / "solutions" / assignment / name)[1][cell_id].source


def _package_affine_forward_renamed() -> str:
    """cs231n_lib.layers' affine_forward as a student would paste it, locals renamed."""
    text = (REPO / "cs231n_lib" / "layers" / "core.py").read_text()
    node = next(
        n
        for n in ast.parse(text).body
        if isinstance(n, ast.FunctionDef) and n.name == "affine_forward"
    )
    source = ast.get_source_segment(text, node)
    for old, new in {"x": "inp", "w": "weights", "b": "bias", "rows": "flat", "out": "res"}.items():
        source = re.sub(rf"\b{old}\b", new, source)
    return source


def make_course(tmp_path: Path) -> Path:
    """01_knn and 03_backprop with their committed releases and three students:
    alice hands in the solutions; bob copies alice's two-loop distances (renamed,
    commented) and leaves the rest, backprop included, as released; carol writes the
    two-loop cell with another algorithm and pastes the package's affine_forward."""
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", root)
    for assignment in ["01_knn", "03_backprop"]:
        for area in ["solutions", "assignments"]:
            shutil.copytree(REPO / area / assignment, root / area / assignment)
    knn_ids = [
        "compute_distances_two_loops",
        "compute_distances_one_loop",
        "compute_distances_no_loops",
        "predict_labels",
        "cross_validate_k",
    ]
    alice_knn = {i: _solution("01_knn", "knn.ipynb", i) for i in knn_ids}
    _submit(root, "alice", "01_knn", "knn.ipynb", alice_knn)
    backprop_ids = ["affine_forward", "affine_backward", "relu_forward", "softmax_loss"]
    alice_backprop = {i: _solution("03_backprop", "backprop.ipynb", i) for i in backprop_ids}
    _submit(root, "alice", "03_backprop", "backprop.ipynb", alice_backprop)

    copied = alice_knn["compute_distances_two_loops"]
    for old, new in {"dists": "D", "num_test": "m", "num_train": "n", "i": "a", "j": "c"}.items():
        copied = re.sub(rf"\b{old}\b", new, copied)
    copied = copied.replace("    for a in", "    # my loops\n    for a in")
    _submit(root, "bob", "01_knn", "knn.ipynb", {"compute_distances_two_loops": copied})
    _submit(root, "bob", "03_backprop", "backprop.ipynb", {})

    own_algorithm = (
        alice_knn["compute_distances_two_loops"].split("    ### BEGIN SOLUTION")[0]
        + "    for i in range(num_test):\n"
        + "        dists[i] = np.linalg.norm(X_train - X[i], axis=1)\n"
        + "    return dists\n"
    )
    _submit(root, "carol", "01_knn", "knn.ipynb", {"compute_distances_two_loops": own_algorithm})
    affine = {"affine_forward": _package_affine_forward_renamed()}
    _submit(root, "carol", "03_backprop", "backprop.ipynb", affine)
    return root


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """The course of `make_course`."""
    return make_course(tmp_path)


def _pairs(report) -> dict[tuple[str, str, str], float]:
    return {(m.student, m.other, m.cell): m.score for m in report.matches}


def test_copy_between_students_is_reported_and_honest_work_is_not(course):
    report = similarity.similarity_report(course, "01_knn")
    pairs = _pairs(report)
    assert pairs[("alice", "bob", "compute_distances_two_loops")] >= 0.95
    assert ("alice", "carol", "compute_distances_two_loops") not in pairs
    assert ("bob", "carol", "compute_distances_two_loops") not in pairs
    assert report.students == ["alice", "bob", "carol"]
    # alice wrote 5 cells, bob and carol 1 each; cells left as released are not compared
    assert report.versions == 5 + 1 + 1
    assert [m.score for m in report.matches] == sorted(
        (m.score for m in report.matches), reverse=True
    )


def test_pasted_package_code_is_reported_against_the_package(course):
    report = similarity.similarity_report(course, "03_backprop")
    found = [m for m in report.matches if m.student == "carol"]
    assert [(m.other, m.cell, m.name) for m in found] == [
        ("package: cs231n_lib/layers/core.py", "affine_forward", "affine_forward")
    ]
    assert found[0].score >= 0.95
    assert "np.asarray" in found[0].other_source and "def affine_forward" in found[0].source


def _package_source(path: str, name: str) -> str:
    """The source of the top-level def `name` in the package file `path`."""
    text = (REPO / path).read_text()
    node = next(n for n in ast.parse(text).body if getattr(n, "name", None) == name)
    return ast.get_source_segment(text, node)


def test_package_code_under_another_name_is_found_through_equivalents(course):
    for area in ["solutions", "assignments"]:
        shutil.copytree(REPO / area / "02_linear", course / area / "02_linear")
    pasted = _package_source("cs231n_lib/models/linear.py", "svm_loss")
    pasted = pasted.replace("def svm_loss(", "def svm_loss_vectorized(")
    _submit(course, "dave", "02_linear", "svm.ipynb", {"svm_loss_vectorized": pasted})
    assert not similarity.similarity_report(course, "02_linear").matches
    same = {"svm_loss_vectorized": ("svm_loss",)}
    report = similarity.similarity_report(course, "02_linear", equivalents=same)
    assert [(m.student, m.other, m.name) for m in report.matches] == [
        ("dave", "package: cs231n_lib/models/linear.py", "svm_loss")
    ]
    assert "svm_loss_vectorized: svm_loss" in similarity.format_table(report)


def test_released_stub_is_never_reported(course):
    report = similarity.similarity_report(course, "03_backprop", threshold=0.0, min_tokens=1)
    assert report.matches, "threshold 0 reports every comparison made"
    assert all("bob" not in (m.student, m.other) for m in report.matches)
    knn = similarity.similarity_report(course, "01_knn", threshold=0.0, min_tokens=1)
    bob = [m for m in knn.matches if "bob" in (m.student, m.other)]
    assert {m.cell for m in bob} == {"compute_distances_two_loops"}
    # all three left compute_l1_distances as released: identical, and never a pair
    assert "compute_l1_distances" not in {m.cell for m in knn.matches}


def test_from_autograded_reads_that_folder(course):
    with pytest.raises(CourseError, match="no submissions of 01_knn in .*autograded"):
        similarity.similarity_report(course, "01_knn", source="autograded")
    shutil.copytree(course / "submitted", course / "autograded")
    shutil.rmtree(course / "submitted" / "bob")
    report = similarity.similarity_report(course, "01_knn", source="autograded")
    assert ("alice", "bob", "compute_distances_two_loops") in _pairs(report)


def test_unreadable_notebooks_and_broken_cells_are_noted(course):
    (course / "submitted" / "dave" / "01_knn").mkdir(parents=True)
    (course / "submitted" / "dave" / "01_knn" / "knn.ipynb").write_text("{not json")
    broken = _solution("01_knn", "knn.ipynb", "compute_distances_two_loops") + "\n)"
    _submit(course, "erin", "01_knn", "knn.ipynb", {"compute_distances_two_loops": broken})
    report = similarity.similarity_report(course, "01_knn")
    text = "\n".join(report.notes)
    assert "dave:" in text and "not valid JSON" in text
    assert "erin: knn.ipynb compute_distances_two_loops does not parse; compared as tokens" in text
    erin = [m for m in report.matches if "erin" in (m.student, m.other)]
    assert erin and all(m.method == "tokens" for m in erin)
    assert "*" in similarity.format_table(report)


def test_progress_bar_when_there_are_many_pairs(course, monkeypatch, capsys):
    similarity.similarity_report(course, "01_knn", progress=True)
    assert "comparing" not in capsys.readouterr().err
    monkeypatch.setattr(similarity, "MANY_COMPARISONS", 1)
    # min_tokens=60 skips alice's short affine_forward: the bar counts only what is compared
    report = similarity.similarity_report(course, "03_backprop", progress=True, min_tokens=60)
    err = capsys.readouterr().err
    done = report.pairs + report.package_comparisons
    assert done > 0 and "comparing" in err and f"| {done}/{done} " in err, err


# ---- output -------------------------------------------------------------------------------

HOSTILE_ID = "eve<img src=x onerror=alert(1)>\x1b[2J"
HOSTILE_CODE = "x = '</pre><script>alert(document.cookie)</script>'  # \u202e evil"


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]


def _hostile_report() -> similarity.Report:
    match = similarity.Match(
        0.97, "knn.ipynb", "compute_distances_two_loops", HOSTILE_ID, "mallory</td>", "ast",
        HOSTILE_CODE, HOSTILE_CODE + "\n\tz = 1",
    )  # fmt: skip
    return similarity.Report(
        "01_knn", "submitted", 0.9, [HOSTILE_ID, "mallory</td>"], matches=[match],
        notes=[f"{HOSTILE_ID}: <b>note</b>"],
    )  # fmt: skip


def test_html_escapes_everything_a_student_wrote():
    page = similarity.render_html(_hostile_report())
    assert "<script" not in page.lower() and "<img" not in page and "<b>" not in page
    assert "&lt;/pre&gt;&lt;script&gt;alert(document.cookie)&lt;/script&gt;" in page
    assert "eve&lt;img src=x onerror=alert(1)&gt;\\x1b[2J" in page
    assert "\\u202e" in page and "\u202e" not in page and "\x1b" not in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    parser = _Tags()
    parser.feed(page)
    assert parser.tags.count("pre") == 2 and "script" not in parser.tags
    assert set(parser.tags) <= {
        "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "ul", "li",
        "table", "tr", "th", "td", "a", "section", "div", "pre",
    }  # fmt: skip
    assert not [a for a in parser.attributes if a.startswith("on")]


def test_terminal_table_escapes_student_ids():
    table = similarity.format_table(_hostile_report())
    assert "\x1b" not in table and "\u202e" not in table
    assert "eve<img src=x onerror=alert(1)>\\x1b[2J" in table
    assert "0.970" in table and "mallory</td>" in table


# ---- the command --------------------------------------------------------------------------


def test_cli_end_to_end(course, capsys):
    assert main(["--course", str(course), "similarity", "01_knn"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("similarity of 01_knn (submitted/): 3 students")
    header = next(i for i, line in enumerate(lines) if line.startswith("score"))
    row = lines[header + 1].split()
    assert row[1:] == ["alice", "bob", "knn.ipynb", "compute_distances_two_loops"], out
    assert float(row[0]) >= 0.95
    page = (course / "similarity" / "01_knn.html").read_text()
    assert "compute_distances_two_loops" in page and page.count("<pre>") == 2

    out_file = course / "elsewhere" / "report.html"
    args = ["--course", str(course), "similarity", "03_backprop", "--out", str(out_file)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "package: cs231n_lib/layers/core.py" in out and f"side by side: {out_file}" in out
    page = out_file.read_text()
    assert "carol" in page and "package: cs231n_lib/layers/core.py, affine_forward (line" in page


@pytest.mark.parametrize(
    "args, message",
    [
        (["99_nothing"], "unknown assignment '99_nothing'"),
        (["01_knn", "--threshold", "1.5"], "--threshold 1.5 must be between 0 and 1"),
        (["01_knn", "--min-tokens", "0"], "--min-tokens 0 must be at least 1"),
    ],
)
def test_cli_bad_input(course, capsys, args, message):
    assert main(["--course", str(course), "similarity", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_cli_no_submissions(course, capsys):
    shutil.rmtree(course / "submitted")
    assert main(["--course", str(course), "similarity", "01_knn"]) == 2
    assert "no submissions of 01_knn" in capsys.readouterr().err
    assert not (course / "similarity").exists()

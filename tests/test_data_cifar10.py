"""Tests of cs231n_lib.data.cifar10 against a tiny CIFAR-10 in the official format.

Everything runs offline: the archive is served by a local HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import pickle
import socket
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from cs231n_lib.data import cifar10

PER_BATCH = 20  # images per tiny batch: 100 training images, 20 test images
NUM_TRAIN_TINY = 5 * PER_BATCH


def _image(index: int) -> np.ndarray:
    """The known (32, 32, 3) uint8 image number `index`; pixel (0, 0, red) equals `index`.

    Values differ between channels, rows and columns, so a missing or wrong transpose
    changes the image.
    """
    h, w, c = np.meshgrid(np.arange(32), np.arange(32), np.arange(3), indexing="ij")
    return ((index + 3 * h + 5 * w + 101 * c) % 256).astype(np.uint8)  # (H, W, C)


def _label(index: int) -> int:
    return (3 * index + 1) % 10


def _row(image: np.ndarray) -> np.ndarray:
    """The official row layout: the 1024 red values, then green, then blue, row-major."""
    return np.concatenate([image[:, :, 0].ravel(), image[:, :, 1].ravel(), image[:, :, 2].ravel()])


def _batch(indices: range, name: str) -> bytes:
    batch = {
        b"batch_label": name.encode(),
        b"labels": [_label(i) for i in indices],
        b"data": np.stack([_row(_image(i)) for i in indices]),  # (n, 3072) uint8
        b"filenames": [f"tiny_{i:05d}.png".encode() for i in indices],
    }
    return pickle.dumps(batch, protocol=2)


def _tiny_files() -> dict[str, bytes]:
    """The seven files of a tiny CIFAR-10: ids 0..99 in training, 100..119 in test."""
    files = {
        f"data_batch_{b}": _batch(
            range((b - 1) * PER_BATCH, b * PER_BATCH), f"training batch {b} of 5"
        )
        for b in range(1, 6)
    }
    files["test_batch"] = _batch(
        range(NUM_TRAIN_TINY, NUM_TRAIN_TINY + PER_BATCH), "testing batch 1 of 1"
    )
    files["batches.meta"] = pickle.dumps(
        {
            b"label_names": [name.encode() for name in cifar10.CLASSES],
            b"num_cases_per_batch": PER_BATCH,
            b"num_vis": 3072,
        },
        protocol=2,
    )
    return files


def _tar_gz(files: dict[str, bytes], folder: str = cifar10.FOLDER) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(f"{folder}/{name}" if folder else name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _md5(content: bytes) -> str:
    return "md5:" + hashlib.md5(content).hexdigest()


def _write_folder(parent: Path, files: dict[str, bytes]) -> Path:
    folder = parent / cifar10.FOLDER
    folder.mkdir(parents=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return folder


@pytest.fixture(scope="module")
def tiny_files() -> dict[str, bytes]:
    return _tiny_files()


@pytest.fixture(scope="module")
def tiny_archive(tiny_files) -> bytes:
    return _tar_gz(tiny_files)


@pytest.fixture
def tiny_dir(tmp_path, tiny_files) -> Path:
    """A data folder that already holds the extracted tiny CIFAR-10."""
    _write_folder(tmp_path / "data", tiny_files)
    return tmp_path / "data"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """Keep requests to 127.0.0.1 away from any proxy set in the environment."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


class Server:
    """A local HTTP server: `routes` maps a path to bytes, or to ("cut", bytes) for a
    connection that drops halfway; other paths answer 404. `requests` lists every path asked.
    """

    def __init__(self):
        self.routes: dict[str, object] = {}
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                cut = isinstance(route, tuple)
                content = route[1] if cut else route
                self.send_response(200)
                self.send_header("Content-Type", "application/gzip")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content[: len(content) // 2] if cut else content)
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def _module_server():
    server = Server()
    yield server
    server.close()


@pytest.fixture
def server(_module_server):
    """The module's server with no routes and no requests yet."""
    _module_server.routes.clear()
    _module_server.requests.clear()
    return _module_server


@pytest.fixture
def serve(server):
    """Serve `content` at a path and return its URL."""

    def serve(content, path="/cifar-10-python.tar.gz") -> str:
        server.routes[path] = content
        return server.url(path)

    return serve


def _leftovers(data_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(data_dir)) for p in data_dir.rglob("*"))


def _expected_images(indices) -> np.ndarray:
    return np.stack([_image(i) for i in indices]).astype(np.float64)


# ---------------------------------------------------------------- download


def test_download_extracts_folder_and_leaves_nothing_else(tmp_path, serve, server, tiny_archive):
    url = serve(tiny_archive)
    data_dir = tmp_path / "data"

    folder = cifar10.download(data_dir, url=url, known_hash=_md5(tiny_archive), progressbar=False)

    assert folder == data_dir / cifar10.FOLDER
    assert cifar10.is_complete(folder)
    assert _leftovers(data_dir) == [cifar10.FOLDER] + [
        f"{cifar10.FOLDER}/{name}" for name in sorted(cifar10.FILES)
    ], "only the extracted folder should remain: no archive, no temporary folder"
    assert server.requests == ["/cifar-10-python.tar.gz"]


def test_download_twice_makes_one_request(tmp_path, serve, server, tiny_archive):
    url = serve(tiny_archive)
    first = cifar10.download(tmp_path, url=url, known_hash=_md5(tiny_archive), progressbar=False)
    second = cifar10.download(tmp_path, url=url, known_hash=_md5(tiny_archive), progressbar=False)

    assert first == second
    assert len(server.requests) == 1, f"second call downloaded again: {server.requests}"


def test_download_defaults_to_cs231n_data(tmp_path, monkeypatch, serve, tiny_archive):
    monkeypatch.setenv("CS231N_DATA", str(tmp_path / "elsewhere"))
    folder = cifar10.download(url=serve(tiny_archive), known_hash=_md5(tiny_archive))

    assert folder == (tmp_path / "elsewhere" / cifar10.FOLDER).resolve()
    assert cifar10.is_complete(folder)


def test_download_shows_progress_bar(tmp_path, capfd, serve, tiny_archive):
    cifar10.download(tmp_path, url=serve(tiny_archive), known_hash=_md5(tiny_archive))

    err = capfd.readouterr().err
    assert "100%" in err, f"expected pooch's tqdm bar on stderr, got {err!r}"


def test_download_replaces_incomplete_folder(tmp_path, serve, server, tiny_files, tiny_archive):
    partial = _write_folder(tmp_path, {"data_batch_1": tiny_files["data_batch_1"]})

    folder = cifar10.download(
        tmp_path, url=serve(tiny_archive), known_hash=_md5(tiny_archive), progressbar=False
    )

    assert folder == partial
    assert cifar10.is_complete(folder)
    assert len(server.requests) == 1
    assert _leftovers(tmp_path) == [cifar10.FOLDER] + [
        f"{cifar10.FOLDER}/{name}" for name in sorted(cifar10.FILES)
    ]


def test_download_then_load(tmp_path, serve, tiny_archive):
    folder = cifar10.download(
        tmp_path, url=serve(tiny_archive), known_hash=_md5(tiny_archive), progressbar=False
    )
    data = cifar10.load(num_val=10, data_dir=folder)

    np.testing.assert_array_equal(np.round(data["X_train"] * 255), _expected_images(range(90)))
    np.testing.assert_array_equal(data["y_test"], [_label(i) for i in range(100, 120)])


@pytest.mark.parametrize("served", ["wrong_hash", "truncated"])
def test_download_corrupt_archive_raises_and_leaves_nothing(tmp_path, serve, served, tiny_archive):
    if served == "wrong_hash":
        url, known_hash = serve(tiny_archive), "md5:" + "0" * 32
    else:  # a shortened file sent completely: only its checksum can tell
        url, known_hash = serve(tiny_archive[: len(tiny_archive) // 2]), _md5(tiny_archive)
    data_dir = tmp_path / "data"

    with pytest.raises(ValueError, match="corrupt or incomplete") as info:
        cifar10.download(data_dir, url=url, known_hash=known_hash, progressbar=False)

    message = str(info.value)
    assert "\n" not in message
    assert "removed" in message and "retry" in message
    assert _leftovers(data_dir) == [], "a failed download left files behind"


@pytest.mark.parametrize("failure", ["404", "unreachable", "connection_cut"])
def test_download_network_failure_raises_and_leaves_nothing(
    tmp_path, serve, server, failure, tiny_archive
):
    if failure == "404":
        url = server.url("/missing.tar.gz")
    elif failure == "unreachable":
        with socket.socket() as sock:  # a port that nobody listens on
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        url = f"http://127.0.0.1:{port}/cifar-10-python.tar.gz"
    else:
        url = serve(("cut", tiny_archive))
    data_dir = tmp_path / "data"

    with pytest.raises(OSError) as info:
        cifar10.download(data_dir, url=url, known_hash=_md5(tiny_archive), progressbar=False)

    message = str(info.value)
    assert url in message
    assert "offline" in message and "digits" in message
    assert _leftovers(data_dir) == []


def test_download_interrupted_extraction_leaves_nothing(tmp_path, monkeypatch, serve, tiny_archive):
    extractall = tarfile.TarFile.extractall

    def extract_some_then_interrupt(self, path, members=None, **kwargs):
        extractall(self, path, members=members[:3], **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(tarfile.TarFile, "extractall", extract_some_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        cifar10.download(
            tmp_path, url=serve(tiny_archive), known_hash=_md5(tiny_archive), progressbar=False
        )

    assert _leftovers(tmp_path) == []


def test_download_archive_missing_a_file_raises(tmp_path, serve, tiny_files):
    files = {name: content for name, content in tiny_files.items() if name != "test_batch"}
    archive = _tar_gz(files)

    with pytest.raises(ValueError, match="test_batch"):
        cifar10.download(tmp_path, url=serve(archive), known_hash=_md5(archive), progressbar=False)

    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("escape", ["dotdot", "absolute"])
def test_download_rejects_unsafe_member(tmp_path, serve, tiny_files, escape):
    data_dir = tmp_path / "data"
    outside = tmp_path / "escaped"
    # Both names aim at `outside`: enough ".." climb to / from any depth.
    bad_name = "../" * 64 + str(outside).lstrip("/") if escape == "dotdot" else str(outside)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        members = [(f"{cifar10.FOLDER}/{name}", content) for name, content in tiny_files.items()]
        for name, content in [*members, (bad_name, b"evil")]:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    archive = buffer.getvalue()

    with pytest.raises(ValueError, match="outside the data folder"):
        cifar10.download(data_dir, url=serve(archive), known_hash=_md5(archive), progressbar=False)

    assert _leftovers(data_dir) == []
    assert not outside.exists()


# ---------------------------------------------------------------- load


def _load(**kwargs) -> dict:
    """cifar10.load with the pixels scaled back to 0..255, so that values identify images."""
    data = cifar10.load(**kwargs)
    return {k: np.round(v * 255) if k.startswith("X") else v for k, v in data.items()}


def test_load_shapes_dtypes_and_split_sizes(tiny_dir):
    data = cifar10.load(num_val=10, data_dir=tiny_dir)

    shapes = {key: value.shape for key, value in data.items()}
    assert shapes == {
        "X_train": (90, 32, 32, 3),
        "y_train": (90,),
        "X_val": (10, 32, 32, 3),
        "y_val": (10,),
        "X_test": (20, 32, 32, 3),
        "y_test": (20,),
    }
    for split in ("train", "val", "test"):
        assert data[f"X_{split}"].dtype == np.float64
        assert data[f"y_{split}"].dtype == np.int64
        assert data[f"X_{split}"].flags.c_contiguous
        assert 0.0 <= data[f"X_{split}"].min() <= data[f"X_{split}"].max() <= 1.0


def test_load_converts_channel_major_rows_to_hwc_images(tiny_dir):
    data = _load(num_val=10, data_dir=tiny_dir)

    np.testing.assert_array_equal(data["X_train"], _expected_images(range(90)))
    np.testing.assert_array_equal(data["X_test"], _expected_images(range(100, 120)))
    # One pixel by hand: image 7, row 2, column 5 has R, G, B = 7 + 6 + 25 + 101 * c.
    np.testing.assert_array_equal(data["X_train"][7, 2, 5], [38, 139, 240])


def test_load_labels(tiny_dir):
    data = _load(num_val=10, data_dir=tiny_dir)

    np.testing.assert_array_equal(data["y_train"], [_label(i) for i in range(90)])
    np.testing.assert_array_equal(data["y_test"], [_label(i) for i in range(100, 120)])


def test_load_validation_is_the_end_of_training(tiny_dir):
    data = _load(num_val=15, data_dir=tiny_dir)

    np.testing.assert_array_equal(data["X_val"][:, 0, 0, 0], np.arange(85, 100))
    np.testing.assert_array_equal(data["y_val"], [_label(i) for i in range(85, 100)])
    np.testing.assert_array_equal(data["X_train"][:, 0, 0, 0], np.arange(85))


def test_load_default_split_sizes(tiny_dir):
    data = _load(num_val=0, data_dir=tiny_dir)

    assert data["X_train"].shape == (100, 32, 32, 3)
    assert data["X_val"].shape == (0, 32, 32, 3)
    assert data["X_test"].shape == (20, 32, 32, 3)


def test_load_subsampling_is_seeded(tiny_dir):
    first = _load(num_train=30, num_val=10, num_test=5, data_dir=tiny_dir, seed=1)
    again = _load(num_train=30, num_val=10, num_test=5, data_dir=tiny_dir, seed=1)
    other = _load(num_train=30, num_val=10, num_test=5, data_dir=tiny_dir, seed=2)

    for key in first:
        np.testing.assert_array_equal(first[key], again[key], err_msg=key)
    assert not np.array_equal(first["X_train"], other["X_train"])
    assert not np.array_equal(first["X_test"], other["X_test"])

    train_ids = first["X_train"][:, 0, 0, 0].astype(int)
    test_ids = first["X_test"][:, 0, 0, 0].astype(int)
    assert first["X_train"].shape == (30, 32, 32, 3) and first["X_test"].shape == (5, 32, 32, 3)
    assert len(set(train_ids)) == 30 and set(train_ids) <= set(range(90))
    assert len(set(test_ids)) == 5 and set(test_ids) <= set(range(100, 120))
    np.testing.assert_array_equal(first["X_train"], _expected_images(train_ids))
    np.testing.assert_array_equal(first["y_train"], [_label(i) for i in train_ids])
    np.testing.assert_array_equal(first["y_test"], [_label(i) for i in test_ids])
    np.testing.assert_array_equal(first["X_val"][:, 0, 0, 0], np.arange(90, 100))


def test_load_test_subset_does_not_depend_on_num_train(tiny_dir):
    small = _load(num_train=10, num_val=10, num_test=5, data_dir=tiny_dir)
    large = _load(num_train=50, num_val=10, num_test=5, data_dir=tiny_dir)

    np.testing.assert_array_equal(small["X_test"], large["X_test"])


def test_load_flatten_gives_hwc_rows(tiny_dir):
    images = _load(num_val=10, data_dir=tiny_dir)
    rows = _load(num_val=10, data_dir=tiny_dir, layout="flat")

    for split in ("train", "val", "test"):
        X = images[f"X_{split}"]
        assert rows[f"X_{split}"].shape == (len(X), 3072)
        np.testing.assert_array_equal(rows[f"X_{split}"], X.reshape(len(X), -1))
    # A row starts with R, G, B of pixel (0, 0), not with the red plane.
    np.testing.assert_array_equal(rows["X_train"][7, :3], [7, 108, 209])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_load_dtype(tiny_dir, dtype):
    data = _load(num_val=10, data_dir=tiny_dir, dtype=dtype)

    assert data["X_train"].dtype == dtype and data["X_test"].dtype == dtype
    np.testing.assert_array_equal(data["X_train"], _expected_images(range(90)))


def test_load_nchw_and_bad_layouts(tiny_dir):
    images = _load(num_val=10, data_dir=tiny_dir)
    nchw = _load(num_val=10, data_dir=tiny_dir, layout="nchw")

    np.testing.assert_array_equal(nchw["X_train"], images["X_train"].transpose(0, 3, 1, 2))
    with pytest.raises(ValueError, match="layout='chw' is not one of"):
        cifar10.load(num_val=10, data_dir=tiny_dir, layout="chw")
    with pytest.raises(TypeError, match="floating"):
        cifar10.load(num_val=10, data_dir=tiny_dir, dtype=np.uint8)


def test_load_accepts_the_batches_folder_and_cs231n_data(tiny_dir, monkeypatch):
    direct = _load(num_val=10, data_dir=tiny_dir / cifar10.FOLDER)
    monkeypatch.setenv("CS231N_DATA", str(tiny_dir))
    from_env = _load(num_val=10)

    np.testing.assert_array_equal(direct["X_val"], from_env["X_val"])


BAD_SIZES = [
    (dict(num_val=-1), "num_val=-1"),
    (dict(num_val=100), "num_val=100"),
    (dict(num_val=10, num_train=0), "num_train=0"),
    (dict(num_val=10, num_train=91), "num_train=91 must be between 1 and 90"),
    (dict(num_val=10, num_test=21), "num_test=21 must be between 0 and 20"),
]


@pytest.mark.parametrize(
    "sizes, match",
    BAD_SIZES,
    ids=[",".join(f"{k}={v!r}" for k, v in case.items()) for case, _ in BAD_SIZES],
)
def test_load_rejects_bad_sizes(tiny_dir, sizes, match):
    with pytest.raises(ValueError, match=match):
        _load(data_dir=tiny_dir, **sizes)


def test_load_rejects_non_integer_size(tiny_dir):
    with pytest.raises(TypeError, match="num_train must be an integer"):
        _load(num_train=2.5, num_val=10, data_dir=tiny_dir)


def test_load_missing_folder_says_how_to_download(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        _load(data_dir=tmp_path / "nowhere")

    message = str(info.value)
    assert "cs231n data download cifar10" in message
    assert str(tmp_path / "nowhere" / cifar10.FOLDER) in message
    assert "\n" not in message


def test_load_missing_file_names_it(tiny_dir):
    missing = tiny_dir / cifar10.FOLDER / "data_batch_3"
    missing.unlink()

    with pytest.raises(FileNotFoundError, match="cs231n data download cifar10") as info:
        _load(data_dir=tiny_dir)

    assert str(missing) in str(info.value)


def _corrupt_batch(kind: str, good: bytes) -> bytes:
    batch = pickle.loads(good, encoding="bytes")
    if kind == "truncated":
        return good[: len(good) // 2]
    if kind == "not_a_pickle":
        return b"<html>404 Not Found</html>"
    if kind == "not_a_dict":
        return pickle.dumps([1, 2, 3])
    if kind == "wrong_shape":
        batch[b"data"] = batch[b"data"][:, :1024]
    elif kind == "wrong_dtype":
        batch[b"data"] = batch[b"data"].astype(np.float32)
    elif kind == "too_few_labels":
        batch[b"labels"] = batch[b"labels"][:-1]
    elif kind == "label_out_of_range":
        batch[b"labels"][0] = 10
    elif kind == "no_data":
        del batch[b"data"]
    return pickle.dumps(batch, protocol=2)


@pytest.mark.parametrize(
    "kind",
    [
        "truncated",
        "not_a_pickle",
        "not_a_dict",
        "wrong_shape",
        "wrong_dtype",
        "too_few_labels",
        "label_out_of_range",
        "no_data",
    ],
)
def test_load_corrupt_batch_names_the_file(tiny_dir, tiny_files, kind):
    path = tiny_dir / cifar10.FOLDER / "data_batch_2"
    path.write_bytes(_corrupt_batch(kind, tiny_files["data_batch_2"]))

    with pytest.raises(ValueError, match="corrupt") as info:
        _load(data_dir=tiny_dir, num_val=10)

    message = str(info.value)
    assert str(path) in message
    assert "download cifar10" in message and "delete" in message
    assert "\n" not in message


def test_load_corrupt_meta_names_the_file(tiny_dir):
    path = tiny_dir / cifar10.FOLDER / "batches.meta"
    path.write_bytes(pickle.dumps({b"label_names": [b"apple", b"bus"]}, protocol=2))

    with pytest.raises(ValueError, match="corrupt") as info:
        _load(data_dir=tiny_dir, num_val=10)

    assert str(path) in str(info.value)


def test_classes():
    assert cifar10.CLASSES == (
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    )
    assert cifar10.URL == "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    assert cifar10.KNOWN_HASH == "md5:c58f30108f718f92721af3b95e74349a"


def test_cli_download_failure_is_one_line_and_leaves_nothing(
    tmp_path, monkeypatch, capsys, serve, tiny_archive
):
    from cs231n_lib.cli import main

    data_dir = tmp_path / "data"
    monkeypatch.setenv("CS231N_DATA", str(data_dir))
    # The tiny archive is not the real one, so the official checksum rejects it.
    url = serve(tiny_archive)
    assert main(["data", "download", "cifar10", "--url", url]) == 1
    # stderr also carries pooch's progress bar; the error itself is one line.
    errors = [line for line in capsys.readouterr().err.splitlines() if "cs231n data" in line]
    assert len(errors) == 1 and "corrupt or incomplete" in errors[0], errors
    assert not data_dir.exists() or _leftovers(data_dir) == []

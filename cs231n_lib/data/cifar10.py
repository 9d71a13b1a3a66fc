"""CIFAR-10: 60,000 colour images of 32x32 pixels in ten classes (Krizhevsky, 2009).

The optional real-world data set of the course. `download` fetches the official python
version once (163 MiB, checked against its MD5) into the data directory; `load` parses
its pickles into numpy arrays with the split the public course uses: the first 49,000
training images for training, the last 1,000 for validation, the 10,000 test images
for testing.
"""

from __future__ import annotations

import gzip
import operator
import os
import pickle
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath

import numpy as np
import numpy.typing as npt

from cs231n_lib import config
from cs231n_lib.data.layout import arrange, check_layout

DESCRIPTION = "CIFAR-10, 60,000 32x32 colour images in 10 classes (163 MiB download)"

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
KNOWN_HASH = f"md5:{MD5}"
ARCHIVE = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
FILES = (*TRAIN_BATCHES, TEST_BATCH, META)
CLASSES = (
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
IMAGE_SHAPE = (32, 32, 3)  # (H, W, C)
NUM_TRAIN = 50_000  # images in the five training batches of the real data set
NUM_TEST = 10_000

# What a damaged or foreign pickle raises while loading.
_PICKLE_ERRORS = (
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    TypeError,
    AttributeError,
    ImportError,
    IndexError,
    KeyError,
)
_DOWNLOAD_HINT = (
    f"run `cs231n data download cifar10` (or set CS231N_DATA to the folder that holds {FOLDER})"
)


def is_complete(folder: Path) -> bool:
    """True when `folder` holds all seven files of the python version of CIFAR-10."""
    return all((Path(folder) / name).is_file() for name in FILES)


def download(
    data_dir: str | Path | None = None,
    url: str = URL,
    known_hash: str = KNOWN_HASH,
    progressbar: bool = True,
) -> Path:
    """Download and extract CIFAR-10 once; return the `cifar-10-batches-py` folder.

    Inputs:
    - data_dir: where the folder goes; None means `config.data_dir()` (CS231N_DATA or data/).
    - url: address of the tar.gz archive.
    - known_hash: "md5:<hex>" (or any hash pooch understands) the archive must match.
    - progressbar: show pooch's tqdm progress bar on stderr.

    Nothing that looks complete is left behind by a failed, interrupted or corrupt
    download: the archive goes to a temporary folder inside `data_dir`, is checked,
    extracted and verified there, and the finished folder is renamed into place last.
    The archive itself is deleted afterwards. A complete folder is returned as it is,
    with no network access.

    Raises ValueError if the archive is corrupt (checksum mismatch), unsafe or lacks a
    file, and OSError if the server cannot be reached or refuses the request.
    """
    import pooch
    import requests

    data_dir = Path(config.data_dir() if data_dir is None else data_dir).expanduser()
    target = data_dir / FOLDER
    if is_complete(target):
        return target

    data_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".cifar-10-download-", dir=data_dir))
    try:
        # 1. Download into the staging folder; pooch writes to a temporary file and keeps
        #    it only if its hash matches.
        try:
            archive = pooch.retrieve(
                url,
                known_hash=known_hash,
                fname=ARCHIVE,
                path=staging,
                progressbar=progressbar,
            )
        except requests.RequestException as error:
            raise OSError(
                f"Could not download CIFAR-10 from {url} ({error}); check the connection "
                "and retry. The course works offline with the digits data set "
                "(cs231n_lib.data.digits) in the meantime."
            ) from error
        except ValueError as error:
            if "does not match" not in str(error):
                raise
            raise ValueError(
                f"The CIFAR-10 archive downloaded from {url} was corrupt or incomplete "
                f"(its checksum is not {known_hash}); it was removed, so nothing was "
                "installed: retry `cs231n data download cifar10`."
            ) from error

        # 2. Extract next to the target, then check that all seven files arrived.
        extracted = staging / "extracted"
        _safe_extract(Path(archive), extracted)
        if not is_complete(extracted / FOLDER):
            missing = [name for name in FILES if not (extracted / FOLDER / name).is_file()]
            raise ValueError(
                f"The CIFAR-10 archive from {url} lacks {FOLDER}/{', '.join(missing)}; "
                "it was removed, so nothing was installed: check the URL and retry."
            )

        # 3. Rename into place. An incomplete leftover is moved aside first; if another
        #    process finished meanwhile, its complete folder wins and ours is dropped.
        if target.exists() and not is_complete(target):
            target.rename(staging / "incomplete")
        try:
            os.replace(extracted / FOLDER, target)
        except OSError:
            if not is_complete(target):
                raise
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _safe_extract(archive: Path, destination: Path) -> None:
    """Extract a tar.gz archive, refusing members that would land outside `destination`."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                path = PurePosixPath(member.name)
                if path.is_absolute() or ".." in path.parts:
                    raise ValueError(
                        f"Refusing to extract {archive.name}: member {member.name!r} would be "
                        "written outside the data folder"
                    )
                if not (member.isfile() or member.isdir()):
                    raise ValueError(
                        f"Refusing to extract {archive.name}: member {member.name!r} is not a "
                        "regular file or folder"
                    )
            destination.mkdir()
            # NOTE: filter="data" (Python 3.11.4+) repeats the checks above inside tarfile.
            if hasattr(tarfile, "data_filter"):
                tar.extractall(destination, members=members, filter="data")
            else:
                tar.extractall(destination, members=members)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise ValueError(f"{archive.name} is not a readable tar.gz archive ({error})") from error


def load(
    num_train: int | None = None,
    num_val: int = 1000,
    num_test: int | None = None,
    seed: int = 0,
    layout: str = "nhwc",
    dtype: npt.DTypeLike = np.float64,
    data_dir: str | Path | None = None,
) -> dict[str, np.ndarray]:
    """Load CIFAR-10 from the official python pickles, split into train, val and test.

    Inputs:
    - num_train: size of the training set, a seeded random subset of the training images
      that are not used for validation; None keeps all of them (49,000).
    - num_val: size of the validation set, the LAST num_val images of the training batches.
    - num_test: size of the test set, a seeded random subset; None keeps all 10,000.
    - seed: seed of the subsampling, so a subset is the same on every machine.
    - layout: "nhwc" images (N, 32, 32, 3), "nchw" images (N, 3, 32, 32) or "flat" rows of
      D = 3072 values (the HWC image, pixel by pixel, R G B).
    - dtype: a floating dtype of the images (float32 halves the memory of all 49,000).
    - data_dir: folder that holds `cifar-10-batches-py` (or that folder itself);
      None means `config.data_dir()` (CS231N_DATA or data/).

    Returns a dict with X_train, y_train, X_val, y_val, X_test, y_test: X arrays with
    pixels in [0, 1] (the file's 0..255 divided by 255; no mean subtraction), y arrays
    int64 of shape (N,) with labels 0..9 that index CLASSES. Subsets keep the order of
    the files.

    Raises FileNotFoundError if a file is missing and ValueError if one is corrupt.
    """
    check_layout(layout)
    folder = Path(config.data_dir() if data_dir is None else data_dir).expanduser()
    if folder.name != FOLDER:
        folder = folder / FOLDER
    if not folder.is_dir():
        raise FileNotFoundError(f"CIFAR-10 not found: {folder} does not exist; {_DOWNLOAD_HINT}")
    for name in FILES:
        if not (folder / name).is_file():
            raise FileNotFoundError(
                f"CIFAR-10 is incomplete: {folder / name} is missing; {_DOWNLOAD_HINT}"
            )

    _check_meta(folder / META)
    batches = [_read_batch(folder / name) for name in TRAIN_BATCHES]
    X_all = np.concatenate([X for X, _ in batches])  # (N, 32, 32, 3) uint8
    y_all = np.concatenate([y for _, y in batches])
    X_test, y_test = _read_batch(folder / TEST_BATCH)

    num_val = _size("num_val", num_val, 0, len(X_all) - 1)
    num_pool = len(X_all) - num_val
    num_train = _size("num_train", num_pool if num_train is None else num_train, 1, num_pool)
    num_test = _size("num_test", len(X_test) if num_test is None else num_test, 0, len(X_test))

    # Independent streams, so the test subset does not depend on num_train.
    train_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    splits = {
        "train": (X_all[:num_pool], y_all[:num_pool], _subset(train_rng, num_pool, num_train)),
        "val": (X_all[num_pool:], y_all[num_pool:], slice(None)),
        "test": (X_test, y_test, _subset(test_rng, len(X_test), num_test)),
    }
    data = {}
    for split, (X, y, index) in splits.items():
        # Convert after subsampling: all 49,000 images in float64 take 1.2 GB.
        data[f"X_{split}"] = arrange(X[index].astype(dtype) / np.array(255, dtype), layout, dtype)
        data[f"y_{split}"] = y[index]
    return data


def _size(name: str, value: int, low: int, high: int) -> int:
    """Check that a split size is an integer in [low, high]."""
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{name}={value} must be between {low} and {high} for this data")
    return value


def _subset(rng: np.random.Generator, total: int, size: int) -> np.ndarray | slice:
    """Sorted random indices of `size` out of `total` items; everything if size == total."""
    if size == total:
        return slice(None)
    return np.sort(rng.choice(total, size=size, replace=False))


def _unpickle(path: Path) -> dict:
    """Read one of the official pickles (written by Python 2, so keys are bytes)."""
    # NOTE: unpickling runs code from the file; download() only installs archives whose
    # checksum matches the official one.
    try:
        with open(path, "rb") as f:
            content = pickle.load(f, encoding="bytes")
    except _PICKLE_ERRORS as error:
        raise ValueError(_corrupt(path, f"not a readable pickle: {error!r}")) from error
    if not isinstance(content, dict):
        raise ValueError(_corrupt(path, f"holds a {type(content).__name__}, not a dict"))
    return content


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 32, 32, 3) uint8 and labels (N,) int64 of one batch file."""
    batch = _unpickle(path)
    rows, labels = batch.get(b"data"), batch.get(b"labels")
    if rows is None or labels is None:
        raise ValueError(_corrupt(path, "has no b'data' or no b'labels' entry"))
    rows = np.asarray(rows)
    if rows.dtype != np.uint8 or rows.ndim != 2 or rows.shape[1] != 3 * 32 * 32:
        raise ValueError(
            _corrupt(
                path,
                f"holds data of shape {rows.shape} and dtype {rows.dtype}, "
                "expected (N, 3072) uint8",
            )
        )
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError) as error:
        raise ValueError(_corrupt(path, f"has unreadable labels ({error})")) from error
    if labels.shape != (len(rows),) or labels.min(initial=0) < 0 or labels.max(initial=0) > 9:
        raise ValueError(
            _corrupt(
                path,
                f"has labels of shape {labels.shape} (expected ({len(rows)},)) or outside 0..9",
            )
        )
    # Each row is the red plane, then green, then blue, each 32x32 row-major.
    X = rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C)
    return X, labels


def _check_meta(path: Path) -> None:
    """Check that batches.meta names the ten CIFAR-10 classes in label order."""
    names = _unpickle(path).get(b"label_names")
    try:
        names = tuple(name.decode() for name in names)
    except (TypeError, AttributeError, UnicodeDecodeError):
        names = None
    if names != CLASSES:
        raise ValueError(_corrupt(path, f"names the classes {names}, expected {CLASSES}"))


def _corrupt(path: Path, reason: str) -> str:
    """One-line message for a damaged file, with the way to repair it."""
    return (
        f"{path} is corrupt ({reason}); delete the folder {path.parent} and run "
        "`cs231n data download cifar10` again"
    )

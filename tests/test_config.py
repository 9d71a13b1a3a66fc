"""Tests of cs231n_lib.config: fast mode, data directory and device from the environment."""

from pathlib import Path

import pytest
import torch

from cs231n_lib import config

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
without_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
without_mps = pytest.mark.skipif(
    torch.backends.mps.is_available(), reason="this machine has an Apple GPU"
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("CS231N_FAST", "CS231N_DATA", "CS231N_DEVICE"):
        monkeypatch.delenv(name, raising=False)


# --- fast mode ---------------------------------------------------------------------------


def test_fast_mode_is_off_by_default():
    assert config.fast_mode() is False


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "yes", "on", " 1 "])
def test_fast_mode_on(monkeypatch, value):
    monkeypatch.setenv("CS231N_FAST", value)
    assert config.fast_mode() is True


@pytest.mark.parametrize("value", ["", "0", "false", "No", "off"])
def test_fast_mode_off(monkeypatch, value):
    monkeypatch.setenv("CS231N_FAST", value)
    assert config.fast_mode() is False


@pytest.mark.parametrize("value", ["2", "fast", "maybe"])
def test_fast_mode_bad_value_names_it(monkeypatch, value):
    monkeypatch.setenv("CS231N_FAST", value)
    with pytest.raises(ValueError, match=f"CS231N_FAST='{value}'"):
        config.fast_mode()


def test_pick_follows_fast_mode(monkeypatch):
    assert config.pick(10, 1000) == 1000
    monkeypatch.setenv("CS231N_FAST", "1")
    assert config.pick(10, 1000) == 10
    monkeypatch.setenv("CS231N_FAST", "bogus")
    with pytest.raises(ValueError):
        config.pick(10, 1000)


# --- data directory ----------------------------------------------------------------------


def test_data_dir_defaults_to_course_root():
    assert config.data_dir() == config.COURSE_ROOT / "data"
    assert (config.COURSE_ROOT / "pyproject.toml").is_file()


def test_data_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CS231N_DATA", str(tmp_path / "sets"))
    assert config.data_dir() == (tmp_path / "sets").resolve()


def test_data_dir_relative_and_home(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CS231N_DATA", "here")
    assert config.data_dir() == (tmp_path / "here").resolve()
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CS231N_DATA", "~/cs231n")
    assert config.data_dir() == (tmp_path / "cs231n").resolve()
    assert isinstance(config.data_dir(), Path)


def test_data_dir_empty_value_means_default(monkeypatch):
    monkeypatch.setenv("CS231N_DATA", "")
    assert config.data_dir() == config.COURSE_ROOT / "data"


# --- device ------------------------------------------------------------------------------


@without_cuda
@without_mps
def test_device_is_cpu_without_a_gpu():
    assert config.device() == torch.device("cpu")


@pytest.mark.parametrize("value", ["cpu", "CPU", " cpu "])
def test_device_honours_cpu(monkeypatch, value):
    monkeypatch.setenv("CS231N_DEVICE", value)
    assert config.device() == torch.device("cpu")


def test_device_bogus_value(monkeypatch):
    monkeypatch.setenv("CS231N_DEVICE", "bogus")
    with pytest.raises(ValueError, match=r"CS231N_DEVICE='bogus'.*cuda.*mps.*cpu"):
        config.device()


@without_cuda
def test_device_cuda_without_gpu_explains(monkeypatch):
    monkeypatch.setenv("CS231N_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="no GPU.*CUDA build"):
        config.device()


@without_mps
def test_device_mps_without_apple_gpu(monkeypatch):
    monkeypatch.setenv("CS231N_DEVICE", "mps")
    with pytest.raises(RuntimeError, match="mps"):
        config.device()


@needs_cuda
def test_device_prefers_cuda_and_runs_on_it(monkeypatch):
    assert config.device().type == "cuda"
    monkeypatch.setenv("CS231N_DEVICE", "cuda")
    x = torch.ones(3, device=config.device())
    assert x.is_cuda and float(x.sum()) == 3.0

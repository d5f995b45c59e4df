"""Shared by the tests and the notebooks' nbval run: how pytest-xdist workers share the
machine (``python3 -m pytest -n auto``, the README's command)."""

import os

import pytest


def pytest_configure(config):
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # one thread each: with more OpenMP threads than cores libgomp stops spin-waiting,
        # and every small operation then waits for its workers to wake (several times slower).
        # The variable reaches the notebooks' kernels and the benchmarks' subprocesses.
        os.environ["OMP_NUM_THREADS"] = "1"
        import torch

        torch.set_num_threads(1)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """A notebook's cells share one kernel and run in order: under ``--dist loadgroup``
    each notebook goes to one worker whole. They are marked ``notebook`` too, so that
    ``-m "real or notebook"`` runs them beside the real-model tier."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.xdist_group(item.path.stem))
            item.add_marker(pytest.mark.notebook)

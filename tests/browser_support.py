"""Shared pieces of the browser tests: Chromium with a fake microphone, free ports."""

import os
import re
import shutil
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def setup_programs() -> list[str]:
    """The system programs ``setup.sh`` installs (its SYSTEM_PROGRAMS line)."""
    found = re.search(r"^SYSTEM_PROGRAMS=\(([^)]*)\)", (ROOT / "setup.sh").read_text(), re.MULTILINE)
    return [entry.split(":")[-1] for entry in found.group(1).split()] if found else []  # package:program


def system_program(name: str) -> str:
    """Path of a system program a test needs. Fails when ``setup.sh`` does not install
    it (the test would pass only where it was installed by hand); skips when it is
    missing here, except in CI."""
    if name not in setup_programs():
        pytest.fail(f"the tests use {name}, which setup.sh does not install: add it to SYSTEM_PROGRAMS")
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} not found: setup.sh installs it (apt-get install {name})")
        pytest.skip(f"{name} not found (setup.sh installs it)")
    return path


def chromium_or_skip() -> str:
    """Chromium: S2ST_CHROMIUM if set, else the one setup.sh installs."""
    return os.environ.get("S2ST_CHROMIUM") or system_program("chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_args(wav_path) -> list[str]:
    """Chromium's fake microphone plays ``wav_path`` (16-bit PCM), looping."""
    return ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav_path}", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-gpu"]

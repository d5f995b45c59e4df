"""Shared pieces of the browser tests: Chromium with a fake microphone, free ports."""

import os
import shutil
import socket

import pytest

CHROMIUM = os.environ.get("S2ST_CHROMIUM", "/usr/bin/chromium")


def chromium_or_skip():
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}: setup.sh installs it (apt-get install chromium)")
        pytest.skip(f"Chromium not found at {CHROMIUM} (setup.sh installs it)")
    return CHROMIUM


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_args(wav_path) -> list[str]:
    """Chromium's fake microphone plays ``wav_path`` (16-bit PCM), looping."""
    return ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav_path}", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-gpu"]

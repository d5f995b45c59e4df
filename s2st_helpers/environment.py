"""The set-up cell of every notebook: where we run, on what, with which versions.

Introduced in ``00_setup``. ``setup()`` quiets the libraries' progress bars and
warnings (which otherwise fill a notebook and break output comparison), then prints
one short report. ``prefetch()`` downloads everything once, so the rest of the
course runs offline.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
import warnings
from importlib import metadata

from . import settings
from .models import pick_device

PACKAGES = ("torch", "transformers", "datasets", "huggingface_hub", "gradio", "anywidget", "numpy")


def in_colab() -> bool:
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def quiet_logs() -> None:
    """Silence progress bars, info logs and known-harmless warnings."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
    except ImportError:
        pass
    for name in ("datasets", "huggingface_hub", "httpx", "gradio"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*weight_norm.*")


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def setup(verbose: bool = True) -> dict:
    """Quiet the logs and report where the workbook runs. Returns the report."""
    quiet_logs()
    device = pick_device()
    report = {"where": "Colab" if in_colab() else "local", "device": str(device), **versions(),
              "preset": settings.preset(),
              "models": {"asr": settings.asr_model(), "tts": settings.tts_model(), "vocoder": settings.vocoder()}}
    if device.type == "cuda":
        import torch

        report["gpu"] = torch.cuda.get_device_name(device)
    if verbose:
        print(f"Running {report['where']} on {report['device']}" + (f" ({report['gpu']})" if "gpu" in report else ""))
        if device.type == "cpu":
            print("  No GPU: everything works, just slower."
                  + (" In Colab: Runtime > Change runtime type > T4 GPU." if in_colab() else ""))
        print("  " + ", ".join(f"{k} {report[k]}" for k in ("python", *PACKAGES)))
        print("  models: " + ", ".join(report["models"].values()) + f" | preset {report['preset']}")
    return report


def prefetch(languages=("it",), progress: bool = True) -> None:
    """Download the models, the x-vector zip and sample clips once (needs internet).

    Later notebooks then run with no network, from the Hugging Face cache.
    """
    from huggingface_hub import snapshot_download
    from tqdm.auto import tqdm

    from .samples import load_sample
    from .speakers import xvector_names

    steps = [(f"model {m}", lambda m=m: _snapshot(snapshot_download, m))
             for m in (settings.asr_model(), settings.tts_model(), settings.vocoder())]
    steps.append(("speaker x-vectors", xvector_names))
    steps += [(f"sample clip ({lang})", lambda lang=lang: load_sample(lang)) for lang in languages]
    for name, step in tqdm(steps, desc="prefetch", disable=not progress):
        tqdm.write(f"  {name}")
        step()


def _snapshot(download, model_id: str) -> None:
    if os.path.isdir(model_id):  # a local checkpoint needs no download
        return
    download(model_id, allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt"])

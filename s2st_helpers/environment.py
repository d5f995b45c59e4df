"""The set-up cell of every notebook: where we run, on what, with which versions.

Introduced in ``00_setup``. ``setup()`` quiets the libraries' progress bars and
warnings (which otherwise fill a notebook and break output comparison), then prints
one short report. ``prefetch()`` downloads everything once, so the rest of the
course runs offline.
"""

from __future__ import annotations

import glob
import logging
import math
import os
import platform
import sys
import warnings
from importlib import metadata
from pathlib import Path

from . import settings
from .models import pick_device
from .samples import hub_offline

VOICES = ("fra", "spa")  # the MMS voices 04 and 07 speak
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


def cpu_quota(root: str | os.PathLike = "/sys/fs/cgroup", proc: str | os.PathLike = "/proc/self/cgroup") -> float | None:
    """The CPUs this process's control group may use: its CFS quota over its period
    (cgroup v2's ``cpu.max``, the least of its group's and those above it; else v1's
    ``cpu.cfs_quota_us``), or None where none is
    set or none can be read (not Linux, no cgroups). A container's CPU limit (Docker's
    ``--cpus``, a Kubernetes or JupyterHub limit) is such a quota: the machine's cores
    all stay visible, and PyTorch counts them."""
    root = Path(root)
    try:
        lines = Path(proc).read_text().splitlines()
    except OSError:
        lines = []
    own = Path(next((line.split(":", 2)[2] for line in lines if line.startswith("0::")), "/").strip())
    found, limits = False, []
    for group in (own, *own.parents):  # v2: a limit on the process's group or on any group above it binds
        try:
            quota, period = (root / group.relative_to("/") / "cpu.max").read_text().split()[:2]
            found = True
            if quota != "max":
                limits.append(int(quota) / int(period))
        except (OSError, ValueError):
            continue
    if found:
        return min(limits, default=None)
    try:  # v1
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return quota / period if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


def fit_threads() -> int | None:
    """Give PyTorch no more CPU threads than the container's CPU quota (rounded down,
    at least one); returns the new count, or None where nothing changed.

    PyTorch starts a thread per visible core. Under a quota the threads take turns on
    fewer cores, and each small operation waits at a barrier for the thread that is
    off a core: a decoder step, made of hundreds of small operations, slows by many
    times. ``OMP_NUM_THREADS`` (or ``MKL_NUM_THREADS``), when set, is the user's
    choice and is kept."""
    import torch

    if os.environ.get("OMP_NUM_THREADS") or os.environ.get("MKL_NUM_THREADS"):
        return None
    quota = cpu_quota()
    if quota is None:
        return None
    allowed = max(1, math.floor(quota))
    if torch.get_num_threads() <= allowed:
        return None
    torch.set_num_threads(allowed)
    return allowed


OFFLINE_NOTE = "The Hugging Face hub cannot be reached: working offline (HF_HUB_OFFLINE=1), from the cache."


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the hub's host (``HF_ENDPOINT``) takes a connection within ``timeout``
    seconds. Behind a proxy it is taken as reachable: only the proxy could tell."""
    import socket
    import urllib.request
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if urllib.request.getproxies():
        return True
    url = urlparse(constants.ENDPOINT)
    try:
        socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)),
                                 timeout=timeout).close()
        return True
    except OSError:
        return False


def offline_if_unreachable(reachable=hub_reachable) -> bool:
    """Work offline (``HF_HUB_OFFLINE=1``) for the rest of this process where the hub
    cannot be reached. Otherwise an offline room waits on the libraries' retries: ~25 s
    for each sample clip, minutes before a model that is not in the cache fails.
    Returns True where it switched."""
    from huggingface_hub import constants

    if hub_offline() or reachable():
        return False
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants.HF_HUB_OFFLINE = True  # read at import; transformers asks it at each load
    return True


def setup(verbose: bool = True) -> dict:
    """Quiet the logs and report where the workbook runs. Returns the report."""
    quiet_logs()
    device = pick_device()
    switched = offline_if_unreachable()
    import torch

    counted = torch.get_num_threads()
    fitted = fit_threads()

    report = {"where": "Colab" if in_colab() else "local", "device": str(device), **versions(),
              "cpu threads": torch.get_num_threads(),
              "offline": hub_offline(),
              "preset": settings.preset(),
              "models": {"asr": settings.asr_model(), "tts": settings.tts_model(), "vocoder": settings.vocoder()}}
    if device.type == "cuda":
        report["gpu"] = torch.cuda.get_device_name(device)
    if verbose:
        print(f"Running {report['where']} on {report['device']}" + (f" ({report['gpu']})" if "gpu" in report else ""))
        if device.type == "cpu":
            print("  No GPU: everything works, just slower."
                  + (" In Colab: Runtime > Change runtime type > T4 GPU." if in_colab() else ""))
        print("  " + ", ".join(f"{k} {report[k]}" for k in ("python", *PACKAGES)))
        if fitted:
            print(f"  CPU threads: {fitted}, as this container's CPU limit allows (PyTorch had started "
                  f"{counted}, one per core it can see)")
        print("  models: " + ", ".join(report["models"].values()) + f" | preset {report['preset']}")
        if switched:
            print(f"  {OFFLINE_NOTE}")
    return report


def prefetch(languages=("it",), voices=VOICES, progress: bool = True) -> None:
    """Download the models (07's text translation model included), the x-vector zip,
    the MMS voices of the non-English targets 04 and 07 speak, and sample clips once
    (needs internet; NLLB-200 is 2.5 GB).

    Everything goes to the Hugging Face cache (``HF_HOME``; the clips beside it), so
    later notebooks run with no network; :func:`check_offline` says what is there.
    """
    from huggingface_hub import snapshot_download
    from tqdm.auto import tqdm

    from .samples import load_sample
    from .speakers import xvector_names

    steps = [(f"model {m}", lambda m=m: _snapshot(snapshot_download, m)) for m in _models(voices)]
    steps.append(("speaker x-vectors", xvector_names))
    steps += [(f"sample clip ({lang})", lambda lang=lang: load_sample(lang, offline=False)) for lang in languages]
    for name, step in tqdm(steps, desc="prefetch", disable=not progress):
        tqdm.write(f"  {name}")
        step()


def check_offline(languages=("it",), voices=VOICES, show: bool = True) -> list[dict]:
    """What an offline class would find: each model, the x-vectors and the sample
    clips, cached or missing, with sizes. Needs no network (it never downloads).
    Returns the rows; prints them as a table unless ``show=False``."""
    from huggingface_hub import snapshot_download

    from .samples import _cache_paths, bundled_languages
    from .speakers import cached_zip

    rows = []
    for model in _models(voices):
        if os.path.isdir(model):
            rows.append(_row(f"model {model}", "local folder", model))
            continue
        try:
            path = snapshot_download(model, local_files_only=True, allow_patterns=ALLOW_PATTERNS)
            rows.append(_row(f"model {model}", "cached", path))
        except Exception:  # not in the cache
            rows.append(_row(f"model {model}", "missing"))
    xvectors = cached_zip()
    rows.append(_row("speaker x-vectors (7931)", "cached", xvectors) if xvectors else
                _row("speaker x-vectors (7931)", "missing: six bundled voices only"))
    for language in languages:
        audio = _cache_paths(language, 0)[0]
        if audio.is_file():
            rows.append(_row(f"sample clip ({language})", "cached", audio))
        else:
            fallback = "missing: a bundled clip instead" if language in bundled_languages() else "missing"
            rows.append(_row(f"sample clip ({language})", fallback))
    if show:
        width = max(len(r["item"]) for r in rows)
        for r in rows:
            size = f"{r['MB']:8.1f} MB" if r["MB"] else " " * 11
            print(f"{r['item']:{width}s}  {size}  {r['status']}")
        total = sum(r["MB"] for r in rows)
        missing = sum(r["status"].startswith("missing") for r in rows)
        print(f"{total:.0f} MB cached; {missing} item(s) missing" + (": run prefetch() with internet" if missing else ""))
    return rows


ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt"]


def _models(voices) -> list[str]:
    models = [settings.asr_model(), settings.tts_model(), settings.vocoder(), settings.mt_model(),
              *(settings.mms_model(v) for v in voices)]
    return list(dict.fromkeys(models))  # S2ST_MMS_MODEL names one voice for every language


def _row(item: str, status: str, path=None) -> dict:
    """One line of the report; the size follows the cache's links to the real files."""
    size = 0
    if path is not None:
        path = os.path.realpath(path)
        if os.path.isdir(path):
            for folder, _, files in os.walk(path):
                size += sum(os.path.getsize(os.path.realpath(os.path.join(folder, f))) for f in files)
        else:
            size = os.path.getsize(path)
    return {"item": item, "status": status, "MB": size / 2**20}


def _snapshot(download, model_id: str) -> None:
    if os.path.isdir(model_id):  # a local checkpoint needs no download
        return
    path = download(model_id, allow_patterns=ALLOW_PATTERNS)
    if path and not glob.glob(os.path.join(path, "*.safetensors")):  # NLLB-200 ships PyTorch weights only
        download(model_id, allow_patterns=["*.bin"])

"""Speaker x-vectors for SpeechT5: the voice of the synthesised speech.

Introduced in ``02_text_to_speech``. The tutorial's
``load_dataset("Matthijs/cmu-arctic-xvectors", split="validation")[7306]`` fails on
datasets >= 4, which refuses script datasets. The 7931 vectors live in that repo's
``spkrec-xvect.zip``; :func:`load_speaker` reads them from there, by utterance name
(row 7306 is ``cmu_us_slt_arctic-wav-arctic_a0508``, the tutorial's voice). Six of
them ship inside the package so synthesis works with no network.
"""

from __future__ import annotations

import io
import re
import zipfile
from functools import lru_cache
from importlib import resources

import numpy as np

XVECTOR_REPO = "Matthijs/cmu-arctic-xvectors"
XVECTOR_ZIP = "spkrec-xvect.zip"
DEFAULT_SPEAKER = "cmu_us_slt_arctic-wav-arctic_a0508"
DIM = 512
UTTERANCE = re.compile(r"cmu_us_[a-z]+_arctic-wav-arctic_[ab]\d{4}")  # the x-vector zip's names

#: The seven CMU ARCTIC voices (the short name is the middle of each utterance name).
SPEAKERS = {
    "awb": "Scottish male",
    "bdl": "US male",
    "clb": "US female",
    "jmk": "Canadian male",
    "ksp": "Indian male",
    "rms": "US male",
    "slt": "US female (the tutorial's voice)",
}


def list_speakers(usable_only: bool = True) -> dict[str, str]:
    """The CMU ARCTIC speakers you can use here, short name -> description: the six
    bundled with the package, and ``jmk`` too once the hub's x-vector zip is on disk
    (``prefetch()``, or any use of a hub voice). ``usable_only=False``: all seven."""
    usable = set(bundled_speakers()) | (set(SPEAKERS) if not usable_only or cached_zip() else set())
    return {k: v for k, v in SPEAKERS.items() if k in usable}


def cached_zip() -> str | None:
    """Path of the hub's x-vector zip if it is already in the cache, else None
    (never downloads)."""
    from huggingface_hub import hf_hub_download

    try:
        return hf_hub_download(XVECTOR_REPO, XVECTOR_ZIP, repo_type="dataset", local_files_only=True)
    except Exception:  # not cached (or no hub library state): only the bundled voices
        return None


def bundled_speakers() -> dict[str, str]:
    """Speaker short name -> utterance name of the x-vectors shipped in the package."""
    names = sorted(p.name[:-4] for p in _data().iterdir() if p.name.endswith(".npy"))
    return {short_name(n): n for n in names}


def short_name(utterance: str) -> str:
    """``cmu_us_slt_arctic-wav-arctic_a0508`` -> ``slt``."""
    parts = utterance.split("_")
    return parts[2] if len(parts) > 2 and utterance.startswith("cmu_us_") else utterance


def load_speaker(speaker=None) -> np.ndarray:
    """A speaker x-vector as a float32 array of shape (512,).

    ``speaker`` may be None (the tutorial's voice), a short name (``"bdl"``), an
    utterance name (``"cmu_us_bdl_arctic-wav-arctic_a0009"``), a row index of the
    dataset (``7306``), or a 512-value array or tensor (checked and returned).
    Bundled vectors need no network; any other name is read from the hub's zip.
    """
    if speaker is None:
        speaker = DEFAULT_SPEAKER
    if isinstance(speaker, str):
        return _by_name(speaker.strip())
    if isinstance(speaker, (int, np.integer)) and not isinstance(speaker, bool):
        names = xvector_names()
        if not 0 <= speaker < len(names):
            raise ValueError(f"speaker index {speaker} is outside 0..{len(names) - 1}")
        return _from_zip(names[speaker])
    return check_xvector(speaker)


def check_xvector(vector) -> np.ndarray:
    """Validate a speaker embedding and return it as float32 (512,)."""
    if type(vector).__module__.startswith("torch"):
        vector = vector.detach().cpu().numpy()
    if not isinstance(vector, np.ndarray):
        raise TypeError(f"speaker must be None, a name, an index or a 512-value array, got {type(vector).__name__}")
    if vector.dtype.kind not in "fiu":
        raise TypeError(f"speaker x-vector must be numeric, got dtype {vector.dtype}")
    vector = vector.astype(np.float32).reshape(-1) if vector.size == DIM else vector
    if vector.shape != (DIM,):
        raise ValueError(f"speaker x-vector must have {DIM} values, got shape {vector.shape}")
    if not np.isfinite(vector).all():
        raise ValueError("speaker x-vector contains NaN or infinite values")
    return vector


def interpolate(a, b, weight: float) -> np.ndarray:
    """A voice between two speakers: ``(1 - weight) * a + weight * b``, renormalised to
    the length of the originals (x-vectors are unit vectors)."""
    va, vb = load_speaker(a), load_speaker(b)
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be between 0 and 1, got {weight}")
    mix = (1 - weight) * va + weight * vb
    target = (1 - weight) * np.linalg.norm(va) + weight * np.linalg.norm(vb)
    return (mix * target / max(np.linalg.norm(mix), 1e-8)).astype(np.float32)


def xvector_names() -> list[str]:
    """Every utterance name in the hub's zip, in the dataset's row order (sorted)."""
    return sorted(_hub_zip())


def load_all_xvectors() -> tuple[list[str], np.ndarray]:
    """All 7931 x-vectors from the hub: (names, array of shape (7931, 512))."""
    names = xvector_names()
    return names, np.stack([_from_zip(n) for n in names])


def _by_name(name: str) -> np.ndarray:
    bundled = bundled_speakers()
    if name in bundled:
        name = bundled[name]
    elif name in SPEAKERS:
        return _from_zip(_first_of(name))
    path = _data() / f"{name}.npy"
    if path.is_file():
        return check_xvector(np.load(io.BytesIO(path.read_bytes()), allow_pickle=False))
    return _from_zip(name)


def _first_of(short: str) -> str:
    prefix = f"cmu_us_{short}_arctic-"
    return next(n for n in xvector_names() if n.startswith(prefix))


def _from_zip(name: str) -> np.ndarray:
    # a name that cannot be an utterance is refused before the download, which may fail offline
    if not UTTERANCE.fullmatch(name) or name not in _hub_zip():
        raise ValueError(f"unknown speaker {name!r}: use one of {sorted(SPEAKERS)} or an utterance "
                         f"name such as {DEFAULT_SPEAKER!r}")
    with zipfile.ZipFile(_zip_path()) as z:
        return check_xvector(np.load(io.BytesIO(z.read(_hub_zip()[name])), allow_pickle=False))


@lru_cache(maxsize=1)
def _zip_path() -> str:
    from huggingface_hub import hf_hub_download

    try:
        return hf_hub_download(XVECTOR_REPO, XVECTOR_ZIP, repo_type="dataset")
    except Exception as err:  # offline, hub down, no cache: say what to do instead
        raise ValueError(f"could not fetch {XVECTOR_ZIP} from {XVECTOR_REPO} ({err.__class__.__name__}); "
                         f"offline, use a bundled speaker: {sorted(bundled_speakers())}") from err


@lru_cache(maxsize=1)
def _hub_zip() -> dict[str, str]:
    with zipfile.ZipFile(_zip_path()) as z:
        return {m.rsplit("/", 1)[-1][:-4]: m for m in z.namelist() if m.endswith(".npy")}


def _data():
    return resources.files("s2st_helpers") / "data" / "speakers"

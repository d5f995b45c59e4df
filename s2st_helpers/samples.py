"""Sample recordings to translate: VoxPopuli from the hub, bundled clips offline.

Introduced in ``01_speech_translation``. The tutorial streamed ``facebook/voxpopuli``,
a script dataset that datasets >= 4 refuses; the course moved to ``qmeeus/voxpopuli``
(same clips, parquet). Its audio column is read undecoded and decoded here, so no
torchcodec/FFmpeg set-up is needed. Offline, a bundled clip of the same language is
used (see ``data/samples/SOURCES.md`` for origins and licences).
"""

from __future__ import annotations

import csv
import io
import json
import os
import warnings
from functools import lru_cache
from importlib import resources
from pathlib import Path

from .audio import SAMPLING_RATE, load_audio

VOXPOPULI = "qmeeus/voxpopuli"


def bundled_languages() -> list[str]:
    return sorted({row["language"] for row in _manifest()})


def load_sample(language: str = "it", index: int = 0, *, offline: bool | None = None) -> dict:
    """A recording in ``language``: ``{"array", "sampling_rate", "text", "english",
    "language", "source"}`` (``text``: what was said; ``english``: a reference
    translation, "" where there is none).

    Streams the ``index``-th clip of the VoxPopuli validation split and keeps it on
    disk (:func:`sample_cache`), so the next call, and an offline class after
    ``prefetch()``, reads it from there. When the clip was never fetched and the hub
    cannot be reached, returns a bundled clip in that language instead (with a
    warning, unless the hub is offline on purpose: ``HF_HUB_OFFLINE=1``);
    ``offline=True`` always returns the bundled clip.
    """
    if not isinstance(language, str) or not language.strip():
        raise ValueError("language must be a code such as 'it', 'de' or 'fr'")
    language = language.strip().lower()
    if offline is not True:
        cached = _from_cache(language, index)
        if cached is not None:
            return cached
        if offline is None and hub_offline():
            return bundled_sample(language, index)
        try:
            return _to_cache(_from_hub(language, index), index)
        except Exception as err:  # no network, hub down, unknown config
            if offline is False:
                raise
            warnings.warn(f"VoxPopuli could not be reached ({err.__class__.__name__}): using a bundled clip instead. "
                          "Offline on purpose? HF_HUB_OFFLINE=1 skips the try.", stacklevel=2)
    return bundled_sample(language, index)


def hub_offline() -> bool:
    """Whether the hub is offline on purpose (``HF_HUB_OFFLINE``), read now: a notebook
    may set the variable after ``huggingface_hub`` read it at import."""
    from huggingface_hub import constants

    return constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}


def bundled_sample(language: str, index: int = 0) -> dict:
    """The ``index``-th bundled clip in ``language`` (wrapping round)."""
    rows = [r for r in _manifest() if r["language"] == language]
    if not rows:
        raise ValueError(f"no bundled clip in {language!r}; bundled: {bundled_languages()}")
    row = rows[index % len(rows)]
    return {"array": load_audio(_data() / row["file"]), "sampling_rate": SAMPLING_RATE, "text": row["transcript"],
            "english": row.get("english") or "", "language": language,
            "source": f"bundled:{row['file']} ({row['license']})"}


def _from_hub(language: str, index: int) -> dict:
    from datasets import Audio, load_dataset

    stream = load_dataset(VOXPOPULI, language, split="validation", streaming=True)
    stream = stream.cast_column("audio", Audio(decode=False))  # bytes; decoded below
    for i, sample in enumerate(stream):
        if i == index:
            audio = sample["audio"]
            return {"array": load_audio(audio["bytes"] or audio["path"]), "sampling_rate": SAMPLING_RATE,
                    "text": sample.get("text") or sample.get("raw_text") or sample.get("normalized_text", ""),
                    "english": "", "language": language, "source": f"{VOXPOPULI}/{language}/validation[{index}]"}
    raise ValueError(f"{VOXPOPULI} {language} validation has fewer than {index + 1} clips")


def sample_cache() -> Path:
    """Where fetched VoxPopuli clips are kept: beside the models, under ``HF_HOME``
    (so a prefetched ``HF_HOME`` on a shared disk carries the clips too)."""
    from huggingface_hub import constants

    return Path(constants.HF_HOME) / "s2st-workbook" / "samples"


def _cache_paths(language: str, index: int) -> tuple[Path, Path]:
    stem = sample_cache() / f"voxpopuli-{language}-{index}"
    return stem.with_suffix(".flac"), stem.with_suffix(".json")


def _from_cache(language: str, index: int) -> dict | None:
    audio, meta = _cache_paths(language, index)
    if not (audio.is_file() and meta.is_file()):
        return None
    try:
        return {"array": load_audio(audio), "sampling_rate": SAMPLING_RATE, **json.loads(meta.read_text())}
    except (ValueError, OSError):  # a half-written or damaged file: fetch again
        return None


def _to_cache(sample: dict, index: int) -> dict:
    import soundfile as sf

    audio, meta = _cache_paths(sample["language"], index)
    try:
        audio.parent.mkdir(parents=True, exist_ok=True)
        part = audio.with_name(audio.name + ".part")
        sf.write(part, sample["array"], SAMPLING_RATE, format="FLAC", subtype="PCM_16")
        meta.write_text(json.dumps({k: v for k, v in sample.items() if k not in ("array", "sampling_rate")}))
        part.replace(audio)
    except OSError as err:  # a read-only cache still gives the clip
        warnings.warn(f"could not keep the clip in {audio.parent} ({err})", stacklevel=3)
    return sample


def read_manifest(directory) -> list[dict]:
    """The rows of ``directory/manifest.tsv`` (``file``, ``language``, ``transcript``,
    ``english``, ...), as dicts. Quotes are text, not delimiters: transcripts hold them."""
    manifest = directory / "manifest.tsv" if hasattr(directory, "joinpath") else Path(directory) / "manifest.tsv"
    if not manifest.is_file():
        raise ValueError(f"no manifest.tsv in {directory}")
    return read_tsv(manifest)


def read_tsv(path) -> list[dict]:
    """The rows of a tab-separated file with a header, as dicts (a path or a
    package resource). Quotes are text, not delimiters."""
    text = path.read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE))


@lru_cache(maxsize=1)
def _manifest() -> list[dict]:
    return read_manifest(_data())


def _data():
    return resources.files("s2st_helpers") / "data" / "samples"

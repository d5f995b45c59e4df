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

    Streams the ``index``-th clip of the VoxPopuli validation split; when the hub cannot
    be reached (or ``offline=True``) returns a bundled clip in that language instead.
    """
    if not isinstance(language, str) or not language.strip():
        raise ValueError("language must be a code such as 'it', 'de' or 'fr'")
    language = language.strip().lower()
    if offline is not True:
        try:
            return _from_hub(language, index)
        except Exception as err:  # no network, hub down, unknown config
            if offline is False:
                raise
            warnings.warn(f"VoxPopuli unavailable ({err.__class__.__name__}); using a bundled clip", stacklevel=2)
    return bundled_sample(language, index)


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


def read_manifest(directory) -> list[dict]:
    """The rows of ``directory/manifest.tsv`` (``file``, ``language``, ``transcript``,
    ``english``, ...), as dicts. Quotes are text, not delimiters: transcripts hold them."""
    manifest = directory / "manifest.tsv" if hasattr(directory, "joinpath") else Path(directory) / "manifest.tsv"
    if not manifest.is_file():
        raise ValueError(f"no manifest.tsv in {directory}")
    text = manifest.read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE))


@lru_cache(maxsize=1)
def _manifest() -> list[dict]:
    return read_manifest(_data())


def _data():
    return resources.files("s2st_helpers") / "data" / "samples"

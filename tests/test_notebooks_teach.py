"""Notebooks 01 to 04 teach the tutorial's own code: each of its calls stands in a
code cell (run by nbval) before a helper hides it, and each notebook opens with its
objectives, prerequisites and times."""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

TUTORIAL_CALLS = {
    "01_speech_translation": [
        r'load_dataset\("facebook/voxpopuli"',
        r'pipeline\("automatic-speech-recognition"',
        r'generate_kwargs=\{"task": "translate"\}',
        r'WhisperProcessor\.from_pretrained',
        r'WhisperForConditionalGeneration\.from_pretrained',
        r'model\.generate\(',
    ],
    "02_text_to_speech": [
        r'SpeechT5Processor\.from_pretrained',
        r'SpeechT5ForTextToSpeech\.from_pretrained',
        r'SpeechT5HifiGan\.from_pretrained',
        r'load_dataset\("Matthijs/cmu-arctic-xvectors"',
        r'speaker_embeddings = torch\.tensor\(.*\)\.unsqueeze\(0\)',
        r'model\.generate_speech\(inputs\["input_ids"\], speaker_embeddings\)',
        r'model\.generate_speech\(inputs\["input_ids"\], speaker_embeddings, vocoder=vocoder\)',
    ],
    "03_speech_to_speech": [
        r'pipeline\("automatic-speech-recognition"',
        r'SpeechT5ForTextToSpeech\.from_pretrained',
        r'\.generate_speech\(.*vocoder=vocoder\)',
        r'np\.iinfo\(target_dtype\)\.max',
        r'\* max_range\)\.astype\(target_dtype\)',
        r'def speech_to_speech_translation\(audio\):',
        r'return 16000, synthesised_speech',
    ],
    "04_demo": [
        r'gr\.Audio\(source="microphone", type="filepath"\)',
        r'gr\.Blocks\(\)',
        r'gr\.Interface\(',
        r'gr\.Audio\(sources=\["microphone"\], type="filepath"\)',
        r'gr\.Audio\(sources=\["upload"\], type="filepath"\)',
        r'outputs=gr\.Audio\(label="Generated Speech", type="numpy"\)',
        r'gr\.TabbedInterface\(\[mic_translate, file_translate\], \["Microphone", "Audio File"\]\)',
        r'demo\.launch\(\)',
    ],
}
# the helpers that fix each break, which must come after the calls above
HELPERS = {"01_speech_translation": "s2st.translate(", "02_text_to_speech": "s2st.synthesise(",
           "03_speech_to_speech": "s2st.speech_to_speech_translation(", "04_demo": "build_demo("}


def cells(name):
    return json.loads((NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8"))["cells"]


def code(name) -> str:
    return "\n".join("".join(c["source"]) for c in cells(name) if c["cell_type"] == "code")


@pytest.mark.parametrize("name", sorted(TUTORIAL_CALLS))
def test_tutorial_calls_come_before_the_helpers(name):
    source = code(name)
    helper = source.find(HELPERS[name])
    assert helper > 0, f"{name}: the helper {HELPERS[name]} is never shown"
    for pattern in TUTORIAL_CALLS[name]:
        found = re.search(pattern, source)
        assert found, f"{name}: the tutorial's call {pattern!r} is not in a code cell"
        assert found.start() < helper, f"{name}: {pattern!r} comes only after {HELPERS[name]}"


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("0*.ipynb")), ids=lambda p: p.name)
def test_each_notebook_opens_with_objectives_prerequisites_and_times(path):
    first = "".join(cells(path.stem)[0]["source"])
    objectives = re.findall(r"^- ", first.split("**You will**", 1)[-1].split("**Before", 1)[0], flags=re.M)
    assert "**You will**" in first and 3 <= len(objectives) <= 5, path.name
    assert "**Before you start**" in first
    assert re.search(r"about \d+ min on a laptop CPU .* about \d+ min on a Colab T4", first), path.name


def test_benchmark_runs_the_notebooks_tutorial_cells():
    tagged = [c for c in cells("03_speech_to_speech") if "tutorial" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 3
    assert "def speech_to_speech_translation(audio):" in "".join(tagged[-1]["source"])

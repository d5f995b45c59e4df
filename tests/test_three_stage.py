"""The three-stage cascade (07): the language table, each stage, both designs, on tiny models."""

import huggingface_hub
import numpy as np
import pytest
import torch

from s2st_helpers import languages, models, three_stage
from s2st_helpers.cascade import speech_to_speech_translation, speech_to_speech_translation_stream
from s2st_helpers.languages import LANGUAGES, language

IT = {"language": "it"}  # the tiny Whisper's language guess is noise: name the source


# --- the table -----------------------------------------------------------------

def test_each_column_is_the_library_own_code():
    from transformers.models.m2m_100.tokenization_m2m_100 import FAIRSEQ_LANGUAGE_CODES as M2M
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES as FLORES
    from transformers.models.whisper.tokenization_whisper import LANGUAGES as WHISPER

    for lang in LANGUAGES:
        assert WHISPER[lang.whisper] == lang.name.lower(), lang
        assert lang.flores in FLORES, lang
        assert lang.m2m100 in (*M2M["m2m100"], None), lang
        assert len(lang.iso3) == 3 and lang.iso3.islower(), lang
    # every language Whisper hears, but the three NLLB-200 lacks
    assert set(WHISPER) - {lang.whisper for lang in LANGUAGES} == {"la", "br", "haw"}
    assert sum(lang.m2m100 is not None for lang in LANGUAGES) > 60


@pytest.mark.parametrize("lang", LANGUAGES, ids=lambda lang: lang.iso3)
def test_every_row_both_ways(lang):
    for code in (lang.whisper, lang.flores, lang.iso3, lang.name, lang.name.upper()):
        assert language(code) is lang
    assert (language(lang.whisper).flores, language(lang.flores).whisper) == (lang.flores, lang.whisper)


def test_codes_are_unique():
    for column in ("whisper", "flores", "iso3", "name"):
        values = [getattr(lang, column) for lang in LANGUAGES]
        assert len(values) == len(set(values)), column


def test_targets_are_english_then_the_voices():
    targets = languages.targets()
    assert targets[0].iso3 == "eng" and {"fra", "deu", "spa"} <= {t.iso3 for t in targets}
    assert "ita" not in {t.iso3 for t in targets}  # MMS-TTS has no Italian voice


@pytest.mark.parametrize("bad, error, words", [
    ("ita", ValueError, "Italian has no voice"), ("rus", ValueError, "no voice"), ("xx", ValueError, "unknown target"),
    ("", ValueError, "unknown target"), (3, TypeError, "string"), (None, TypeError, "string")])
def test_bad_targets_say_which_are_supported(bad, error, words):
    with pytest.raises(error, match=words) as info:
        languages.target(bad)
    if error is ValueError:
        assert "French (fra)" in str(info.value) and "English (eng)" in str(info.value)


def test_m2m100_lacks_some_languages(tiny_m2m100, monkeypatch):
    monkeypatch.setenv("S2ST_MT_MODEL", tiny_m2m100)
    assert language("fo").m2m100 is None
    with pytest.raises(ValueError, match="M2M100 does not know Faroese"):
        three_stage.translate_text("hey", "fo", "fra")


def test_unknown_source_is_named():
    with pytest.raises(ValueError, match="'la'"):
        languages.source("la")
    with pytest.raises(ValueError, match="no speech"):
        languages.source(None)


def test_design_follows_the_target():
    eng, fra = languages.target("eng"), languages.target("fra")
    assert three_stage.check_design(None, eng) == "two-stage"
    assert three_stage.check_design(None, fra) == "three-stage"
    assert three_stage.check_design("three-stage", eng) == "three-stage"
    with pytest.raises(ValueError, match="English only"):
        three_stage.check_design("two-stage", fra)
    with pytest.raises(ValueError, match="unknown design"):
        three_stage.check_design("3", eng)


# --- stage two: text translation ---------------------------------------------------

@pytest.fixture(scope="session")
def tiny_m2m100(tmp_path_factory):
    from s2st_helpers.tiny_models import build_tiny_m2m100

    return build_tiny_m2m100(tmp_path_factory.mktemp("m2m100"))


@pytest.mark.parametrize("family", ["nllb", "m2m100"])
def test_translate_text_forces_the_target_in_each_family(family, tiny, tiny_m2m100, monkeypatch):
    if family == "m2m100":
        monkeypatch.setenv("S2ST_MT_MODEL", tiny_m2m100)
    mt = models.load_mt()
    seen = {}
    generate = mt.model.generate

    def spy(**kwargs):
        seen.update(kwargs)
        return generate(**kwargs)

    monkeypatch.setattr(mt.model, "generate", spy)
    text = three_stage.translate_text("le chat dort sur la table", "fr", "deu")
    assert isinstance(text, str) and text
    want = {"nllb": ("fra_Latn", "deu_Latn"), "m2m100": ("fr", "__de__")}[family]
    assert mt.tokenizer.src_lang == want[0]
    assert seen["forced_bos_token_id"] == mt.tokenizer.convert_tokens_to_ids(want[1])
    assert seen["max_length"] <= mt.model.config.max_position_embeddings


def test_translate_text_is_deterministic_and_skips_the_obvious(tiny):
    once = three_stage.translate_text("der Hund schläft im Garten", "de", "spa")
    assert three_stage.translate_text("der Hund schläft im Garten", "deu_Latn", "Spanish") == once
    assert "spa_Latn" not in once and "</s>" not in once
    assert three_stage.translate_text("  bonjour ", "fr", "fra") == "bonjour"  # same language: no model
    assert three_stage.translate_text("   ", "fr", "deu") == ""
    with pytest.raises(TypeError, match="text must be a string"):
        three_stage.translate_text(b"bytes", "fr", "deu")
    with pytest.raises(ValueError, match="unknown language 'xx'"):
        three_stage.translate_text("hallo", "xx", "deu")


def test_a_model_without_the_language_token_says_so():
    class Tokenizer:
        unk_token_id = 3

        def convert_tokens_to_ids(self, token):
            return 3

    with pytest.raises(ValueError, match="no token for Hungarian"):
        three_stage._token_id(Tokenizer(), language("hun"))


# --- stage three: MMS-TTS ------------------------------------------------------

def test_speak_gives_16k_float_blocks_with_pauses(tiny):
    blocks = list(three_stage.speak("Bonjour tout le monde. Il fait beau.", "fra", seed=0))
    assert len(blocks) == 3 and all(b.dtype == np.float32 and b.ndim == 1 for b in blocks)
    assert not blocks[1].any() and blocks[0].any() and blocks[2].any()
    again = list(three_stage.speak("Bonjour tout le monde. Il fait beau.", "fra", seed=0))
    assert all(np.array_equal(a, b) for a, b in zip(blocks, again))


def test_speak_starts_with_speech_when_a_sentence_has_nothing_to_read(tiny):
    blocks = list(three_stage.speak("漢字… Bonjour.", "fra", seed=0))  # the tiny voice can read none of "漢字…"
    assert len(blocks) == 1 and blocks[0].any()


def test_speak_refuses_english_and_unknown_voices(tiny):
    with pytest.raises(ValueError, match="SpeechT5"):
        next(three_stage.speak("hello", "eng"))
    with pytest.raises(ValueError, match="no voice"):
        next(three_stage.speak("ciao", "ita"))


def test_numbers_are_spelled_in_the_target_language():
    assert three_stage.spell_numbers("12 chats", language("fra")) == "douze chats"
    assert three_stage.spell_numbers("3 Hunde", language("deu")) == "drei Hunde"


def test_detect_language_reports_a_whisper_code(tiny, speech):
    code, probability = three_stage.detect_language(speech, sampling_rate=16000)
    assert f"<|{code}|>" in models.load_asr().model.generation_config.lang_to_id
    assert 0.0 <= probability <= 1.0


# --- the chained contract, both designs ---------------------------------------------

@pytest.mark.parametrize("kwargs", [{}, {"design": "three-stage"}, {"target": "fra"},
                                    {"target": "deu", "preset": "exact"}])
def test_both_designs_keep_the_tutorial_contract(tiny, speech, kwargs):
    result = speech_to_speech_translation(speech, sampling_rate=16000, seed=0, generate_kwargs=IT, **kwargs)
    rate, audio = result
    assert rate == 16000 and audio.dtype == np.int16 and audio.ndim == 1 and audio.size
    assert result.text and result.language == "it"
    three = kwargs != {}
    assert (result.transcript is not None) == three
    stages = {"transcribe", "machine translation"} if three else {"translate"}
    assert stages | {"synthesise", "first audio", "total"} == set(result.timings)


def test_three_stage_stream_joins_to_the_whole(tiny, speech):
    torch.manual_seed(0)  # the tiny Whisper's temperature fallback samples
    whole = speech_to_speech_translation(speech, sampling_rate=16000, target="spa", seed=1, generate_kwargs=IT)
    torch.manual_seed(0)
    blocks = list(speech_to_speech_translation_stream(speech, sampling_rate=16000, target="spa", seed=1,
                                                      generate_kwargs=IT))
    assert np.array_equal(np.concatenate([b[1] for b in blocks]), whole[1])
    assert blocks[-1].text == whole.text and blocks[-1].transcript == whole.transcript


def test_three_stage_speaks_the_machine_translation_of_the_transcript(tiny, speech):
    torch.manual_seed(0)
    result = speech_to_speech_translation(speech, sampling_rate=16000, target="fra", generate_kwargs=IT)
    assert result.text == three_stage.translate_text(result.transcript, "it", "fra")


def test_three_stage_on_silence_is_empty(tiny):
    result = speech_to_speech_translation(np.zeros(16000, np.float32), sampling_rate=16000, target="fra")
    assert result[1].size == 0 and result.text == "" and result.transcript == ""


def test_three_stage_over_30_seconds_goes_window_by_window(tiny, speech):
    long = np.tile(speech, 18)  # 36 s
    seen = []
    result = speech_to_speech_translation(long, sampling_rate=16000, target="fra", seed=0,
                                          generate_kwargs=IT, progress=lambda done, total: seen.append(total))
    assert result[1].dtype == np.int16 and result.transcript and seen and seen[-1] == pytest.approx(36.0)
    assert result.timings["transcribe"] > 0


@pytest.mark.parametrize("kwargs, error", [({"target": "ita"}, "no voice"), ({"target": "fra", "design": "two-stage"},
                                            "English only"), ({"design": "both"}, "unknown design")])
def test_bad_choices_fail_before_any_model_runs(kwargs, error, monkeypatch, speech):
    monkeypatch.setattr(models, "load_asr", lambda *a, **k: pytest.fail("a model was loaded"))
    with pytest.raises(ValueError, match=error):
        speech_to_speech_translation(speech, sampling_rate=16000, **kwargs)


def test_an_optional_model_that_cannot_load_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # read at import
    monkeypatch.setenv("S2ST_MT_MODEL", "s2st-tests/no-such-model")  # a hub id not in the cache
    models.clear_cache()
    with pytest.raises(ValueError, match="downloads once"):
        models.load_mt(device="cpu")
    monkeypatch.setenv("S2ST_MT_MODEL", str(tmp_path / "no-such-model"))  # a folder that is not there
    with pytest.raises(ValueError, match="which is not a folder here"):
        models.load_mt(device="cpu")


def test_a_missing_voice_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # read at import
    monkeypatch.setenv("S2ST_MMS_MODEL", "s2st-tests/no-such-voice")
    models.clear_cache()
    with pytest.raises(ValueError, match="could not load .*no-such-voice"):
        next(three_stage.speak("bonjour", "fra", device="cpu"))


# --- 07's measurements ------------------------------------------------------------

def test_compare_designs_tables(tiny, monkeypatch):
    import s2st_helpers.translation as translation
    from s2st_helpers.evaluation import load_eval_set

    monkeypatch.setattr(translation, "TEMPERATURES", (0.0,))
    items = load_eval_set()[:2]
    runs = three_stage.compare_designs(items, progress=False, seed=0, generate_kwargs=IT)
    assert [r.design for r in runs] == ["two-stage", "three-stage"] * 2
    table = three_stage.design_table(runs)
    assert list(table.index) == ["two-stage", "three-stage"] and (table["clips"] == 2).all()
    assert table.loc["two-stage", "text to text s"] == 0 and table.loc["three-stage", "text to text s"] > 0
    assert (table["total s"] >= table["first audio s"]).all()
    propagation = three_stage.propagation_table(runs)
    assert list(propagation["transcript CER"]) == sorted(propagation["transcript CER"], reverse=True)
    assert len(propagation) == 2 and propagation["transcript"].notna().all()


def test_transcript_cer_leaves_out_case_and_punctuation():
    """A transcript that differs from the reference only in capitals and punctuation
    is right; one wrong word still counts."""
    def run(clip, transcript, reference):
        return three_stage.DesignRun(clip=clip, language=clip[:2], design="three-stage", text="x",
                                     transcript=transcript, reference_transcript=reference, reference="x", timings={})

    table = three_stage.propagation_table([
        run("it_001.wav", "Dal passo si sale alla vetta, lungo la cresta sud.",
            "dal passo si sale alla vetta lungo la cresta sud"),
        run("ru_001.wav", "Он был здесь.", "он был там"),
        run("zh_001.wav", "我们在这里，好吗？", "我们在这里好吗")])  # no space where the comma was
    assert table.loc["it_001.wav", "transcript CER"] == 0 and table.loc["zh_001.wav", "transcript CER"] == 0
    assert table.loc["ru_001.wav", "transcript CER"] > 0 and table.index[0] == "ru_001.wav"


def test_a_clip_the_text_model_cannot_read_counts_as_empty(tiny, monkeypatch):
    from s2st_helpers.evaluation import load_eval_set

    items = load_eval_set()[:1]
    with pytest.warns(UserWarning, match="could not translate"):
        runs = three_stage.compare_designs(items, progress=False, generate_kwargs={"language": "la"})
    assert runs[1].text == "" and runs[1].timings == {}
    assert three_stage.design_table(runs).loc["three-stage", "clips"] == 1


def test_speaks_target(tiny, monkeypatch):
    monkeypatch.setattr(three_stage, "detect_language", lambda audio, **kw: ("fr", 0.8))
    import s2st_helpers.translation as translation

    monkeypatch.setattr(translation, "translate", lambda audio, **kw: "Depuis le col on monte au sommet")
    got = three_stage.speaks_target(np.ones(16000, np.float32) * 0.1, "fra",
                                    three_stage.reference_translations()[("it_001.wav", "fra")])
    assert got["in target"] and got["chrF"] > 40
    assert three_stage.speaks_target(np.zeros(0), "fra", "x")["in target"] is False


def test_inline_app_speaks_the_chosen_target(tiny, speech):
    from s2st_helpers.recorder import S2STApp

    app = S2STApp(synthesis_options={"generate_kwargs": IT, "seed": 0})
    assert app.target.value == "eng" and ("French", "fra") in app.target.options
    app.run(speech)
    assert app.result.transcript is None  # English: the tutorial's two stages
    app.target.value = "fra"
    app.run(speech)
    assert app.result.transcript is not None and app.result[1].size
    assert app.result.text and "s2st-translated" in app.text.value and "machine translation" in app.text.value


def test_transcribe_is_whispers_transcript(tiny, speech, monkeypatch):
    from transformers import WhisperForConditionalGeneration

    seen = {}
    generate = WhisperForConditionalGeneration.generate
    monkeypatch.setattr(WhisperForConditionalGeneration, "generate",
                        lambda self, *a, **k: seen.update(k) or generate(self, *a, **k))
    heard = three_stage.transcribe(speech, sampling_rate=16000, language="it", preset="exact")
    assert seen["task"] == "transcribe" and heard.language == "it" and isinstance(heard.text, str)


def test_numbers_stay_digits_where_num2words_has_no_language():
    assert three_stage.spell_numbers("7 ngày", language("vi")) == "bảy ngày"
    assert three_stage.spell_numbers("ọmọ 7", language("yo")) == "ọmọ 7"  # num2words has no Yoruba
    assert three_stage.spell_numbers("no digits", language("fra")) == "no digits"

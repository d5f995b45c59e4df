import numpy as np
import pytest
import torch

from s2st_helpers import translate, translate_details
from s2st_helpers.audio import loudest_frame_dbfs
from s2st_helpers.models import load_asr
from s2st_helpers.translation import guard_options, token_budget


def test_translate_returns_text(tiny, speech):
    text = translate({"array": speech, "sampling_rate": 16000})
    assert isinstance(text, str) and text


def test_return_language(tiny, wav_file):
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    text, language = translate(wav_file, return_language=True)
    assert isinstance(text, str) and language in LANGUAGES


def test_details(tiny, wav_file):
    result = translate_details(wav_file)
    assert 0 <= result.no_speech_probability <= 1 and 0 < result.language_probability <= 1
    assert result.seconds == pytest.approx(2.0)
    assert str(result) == result.text


@pytest.mark.parametrize("preset", ["fast", "exact"])
def test_given_language_and_task_reach_generate(tiny, wav_file, monkeypatch, preset):
    from transformers import WhisperForConditionalGeneration

    calls = []
    original = WhisperForConditionalGeneration.generate

    def spy(self, *args, **kwargs):
        calls.append(kwargs)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(WhisperForConditionalGeneration, "generate", spy)
    from s2st_helpers.fast import whisper_steps

    beams = []
    written_out = whisper_steps.beam_search
    monkeypatch.setattr(whisper_steps, "beam_search", lambda *a, **k: beams.append(a) or written_out(*a, **k))
    result = translate_details(wav_file, language="it", task="transcribe", num_beams=2, preset=preset)
    assert result.language == "it" and result.language_probability is None
    if preset == "fast":  # first pass: the written-out beam search on the shared encoder output
        config = load_asr().model.generation_config
        steps, prompt, cap, num_beams = beams[0]
        assert prompt[1:3] == [config.lang_to_id["<|it|>"], config.task_to_id["transcribe"]]
        assert (cap, num_beams) == (token_budget(2.0) + 4, 2)
        # and the ladder, if it looped, written out too
        assert not calls
        return
    first = calls[0]
    assert first["language"] == "it" and first["task"] == "transcribe" and first["num_beams"] == 2
    assert first["max_length"] == 4 + token_budget(2.0)
    # the plain tier: one generate call with the whole guard
    assert first["temperature"] == (0.0, 0.2, 0.4, 0.6, 0.8, 1.0) and "input_features" in first
    assert first["compression_ratio_threshold"] == 1.35 and len(calls) == 1


def test_default_is_beam5_translate(tiny, wav_file, monkeypatch):
    from transformers import WhisperForConditionalGeneration

    seen = {}
    original = WhisperForConditionalGeneration.generate
    monkeypatch.setattr(WhisperForConditionalGeneration, "generate",
                        lambda self, *a, **k: seen.update(k) or original(self, *a, **k))
    translate(wav_file, preset="exact")
    assert seen["task"] == "translate" and seen["num_beams"] == 5


@pytest.mark.parametrize("audio", [np.zeros(32000, np.float32),
                                   np.random.default_rng(0).normal(0, 1e-4, 32000).astype(np.float32)])
def test_silence_gives_empty_text(tiny, audio, monkeypatch):
    from transformers import WhisperForConditionalGeneration

    monkeypatch.setattr(WhisperForConditionalGeneration, "generate",
                        lambda *a, **k: pytest.fail("silence must not reach the decoder"))
    assert translate(audio, sampling_rate=16000) == ""


@pytest.mark.parametrize("preset", ["fast", "exact"])
def test_no_speech_probability_gives_empty_text(tiny, speech, monkeypatch, preset):
    """Noise loud enough to pass the level gate is judged by Whisper's no-speech probability."""
    import s2st_helpers.translation as tr

    monkeypatch.setattr(tr, "read_first_step", lambda *a, **k: ("en", 0.1, 0.95))
    monkeypatch.setattr(tr, "average_logprob", lambda *a, **k: -1.5)
    assert translate(speech, sampling_rate=16000, preset=preset) == ""
    monkeypatch.setattr(tr, "average_logprob", lambda *a, **k: -0.5)  # confident text is kept
    assert translate(speech, sampling_rate=16000, preset=preset) != ""
    monkeypatch.setattr(tr, "read_first_step", lambda *a, **k: ("en", 0.1, 0.05))
    monkeypatch.setattr(tr, "average_logprob", lambda *a, **k: pytest.fail("not needed: speech was heard"))
    assert translate(speech, sampling_rate=16000, preset=preset) != ""


def test_average_logprob_is_the_models_own(tiny, speech):
    """The teacher-forced mean equals the log-probabilities of greedy decoding step by step."""
    from s2st_helpers.fast.whisper_steps import WhisperDecoderSteps
    from s2st_helpers.models import load_asr
    from s2st_helpers.translation import average_logprob, whisper_features

    asr = load_asr()
    window = whisper_features(asr, speech)["input_features"]
    config = asr.model.generation_config
    prompt = [config.decoder_start_token_id, config.lang_to_id["<|fr|>"], config.task_to_id["translate"],
              config.no_timestamps_token_id]
    tokens = [300, 301, 302]
    steps = WhisperDecoderSteps.encode(asr.model, window)
    logits = steps.feed(prompt)
    total = 0.0
    for token in tokens + [config.eos_token_id]:
        total += float(logits.log_softmax(-1)[token])
        if token != config.eos_token_id:
            logits = steps.feed(steps.tokens + [token])
    assert average_logprob(asr, window, tokens, "fr", "translate") == pytest.approx(total / 4, abs=1e-4)
    assert average_logprob(asr, window, tokens, "klingon", "translate") == -np.inf


def test_first_step_is_the_same_in_both_tiers(tiny, speech):
    """The plain tier's model call and the speed layer's first step give the same
    language and no-speech probability."""
    from s2st_helpers.fast.whisper_steps import WhisperDecoderSteps
    from s2st_helpers.models import load_asr
    from s2st_helpers.translation import first_step_logits, read_first_step, whisper_features

    asr = load_asr()
    window = whisper_features(asr, speech)["input_features"]
    plain = first_step_logits(asr, window)
    fast = WhisperDecoderSteps.encode(asr.model, window).feed([asr.model.generation_config.decoder_start_token_id])
    torch.testing.assert_close(fast, plain, rtol=1e-4, atol=1e-4)
    language, p, no_speech = read_first_step(asr, plain)
    assert (language, p, no_speech) == pytest.approx(read_first_step(asr, fast), abs=1e-5)


def test_long_audio_goes_window_by_window(tiny, speech, monkeypatch):
    from transformers import WhisperForConditionalGeneration

    seen = []
    original = WhisperForConditionalGeneration.generate

    def spy(self, *args, **kwargs):
        seen.append(dict(kwargs, frames=kwargs["input_features"].shape[-1]))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(WhisperForConditionalGeneration, "generate", spy)
    long = np.tile(speech, 20)  # 40 s
    done = []
    text = translate(long, sampling_rate=16000, progress=lambda at, total: done.append((at, total)), preset="exact")
    assert isinstance(text, str) and text
    assert len(seen) >= 2 and all(s["frames"] == 3000 and s["return_timestamps"] is True for s in seen)
    assert all(s["compression_ratio_threshold"] == 1.35 for s in seen)
    assert done[-1] == (40.0, 40.0) and [d[0] for d in done] == sorted(d[0] for d in done)


def test_five_minute_recording(tiny, speech):
    result = translate_details(np.tile(speech, 150), sampling_rate=16000)  # 300 s
    assert result.seconds == pytest.approx(300) and isinstance(result.text, str)


def test_token_budget():
    assert token_budget(0.1) == 24
    assert token_budget(10) == 80
    assert token_budget(300) == 444
    assert guard_options(10)["max_length"] == 4 + 80


def test_loudest_frame():
    assert loudest_frame_dbfs(np.zeros(1000, np.float32)) == -np.inf
    assert loudest_frame_dbfs(np.full(960, 0.1, np.float32)) == pytest.approx(-20)
    assert loudest_frame_dbfs(np.full(5, 0.1, np.float32)) == pytest.approx(-20)


@pytest.mark.parametrize("audio,error", [(np.zeros(0, np.float32), ValueError), (None, TypeError),
                                         ([0.1, 0.2], TypeError), ("/no/such/file.wav", ValueError)])
def test_bad_input_fails_before_any_model(audio, error, monkeypatch):
    import s2st_helpers.translation as tr

    monkeypatch.setattr(tr, "load_asr", lambda *a, **k: pytest.fail("model loaded for bad input"))
    with pytest.raises(error):
        translate(audio, sampling_rate=16000)


def test_model_is_loaded_once(tiny, speech):
    from s2st_helpers.models import load_asr

    assert load_asr() is load_asr()
    assert load_asr().device == torch.device("cpu")


@pytest.mark.parametrize("options", [{"temperature": 0.0}, {}, {"compression_ratio_threshold": 0.5},
                                     {"num_beams": 2, "temperature": 0.0}, {"num_beams": 5},
                                     {"num_beams": 5, "compression_ratio_threshold": 0.5},
                                     # generate decodes greedily after a sampled rung
                                     {"num_beams": 5, "temperature": (0.2, 0.0), "compression_ratio_threshold": 0.5}])
def test_fast_tier_gives_the_plain_tiers_text(tiny, speech, options):
    """Greedy or beam search with the shared encoder output, and the fallback ladder
    when it fails (threshold 0.5 makes every first pass fail), give what the plain
    tier's one generate call gives."""
    for scale in (1.0, 0.3):
        for language in ("fr", None):
            torch.manual_seed(11)
            fast = translate_details(speech * scale, sampling_rate=16000, language=language, preset="fast",
                                     **options)
            torch.manual_seed(11)
            exact = translate_details(speech * scale, sampling_rate=16000, language=language, preset="exact",
                                      **options)
            assert (fast.text, fast.language) == (exact.text, exact.language)


@pytest.mark.parametrize("options", [{"compression_ratio_threshold": 0.5}, {"temperature": (0.4, 1.0)},
                                     {"temperature": 1.0}])
def test_a_seed_repeats_the_sampled_text_and_leaves_the_global_generator(tiny, speech, options):
    """Threshold 0.5 fails every pass: the text comes from the ladder's last, sampled
    rung (or sampling from the start). With a seed, the speed layer samples from a
    generator of its own, the plain tier after torch.manual_seed: the same text."""
    texts = {}
    for preset in ("fast", "fastest", "exact"):
        torch.manual_seed(1)
        state = torch.get_rng_state()
        texts[preset] = translate(speech, sampling_rate=16000, language="fr", preset=preset, seed=5, **options)
        if preset != "exact":
            assert torch.equal(torch.get_rng_state(), state)
        torch.manual_seed(2)
        assert translate(speech, sampling_rate=16000, language="fr", preset=preset, seed=5, **options) == texts[preset]
    assert texts["fast"] == texts["exact"] and texts["fast"]
    assert translate(speech, sampling_rate=16000, language="fr", seed=6, **options) != texts["fast"]


@pytest.mark.parametrize("seed", [1.5, "0", True])
def test_a_seed_is_an_integer(tiny, speech, seed):
    from s2st_helpers.long_form import translate_windows

    with pytest.raises(TypeError, match="seed must be an integer"):
        translate(speech, sampling_rate=16000, seed=seed)
    with pytest.raises(TypeError, match="seed must be an integer"):
        translate_windows(load_asr(), speech, seed=seed)  # at the call, not at the first window


def test_a_seed_in_torchs_range_is_taken(tiny, speech):
    """NumPy integers and the top of torch.manual_seed's range (the windows' seeds
    wrap round as torch's own seeding does); past it, a ValueError up front."""
    from s2st_helpers.long_form import translate_windows

    options = {"sampling_rate": 16000, "compression_ratio_threshold": 0.5}
    assert translate(speech, seed=np.int64(3), **options) == translate(speech, seed=3, **options)
    assert translate(speech, seed=-1, **options) == translate(speech, seed=2**64 - 1, **options)
    long = np.tile(speech, 20)  # 40 s: two windows, the second seeded 2**64 % 2**64 = 0
    assert list(translate_windows(load_asr(), long, seed=2**64 - 1, **{"compression_ratio_threshold": 0.5}))
    with pytest.raises(ValueError, match="seed must be within"):
        translate(speech, sampling_rate=16000, seed=2**64)


@pytest.mark.parametrize("preset", ["fast", "exact"])
def test_a_language_name_is_read_as_its_code(tiny, speech, preset):
    """As generate reads it: "German", "german", "<|de|>" and "de" alike; the result
    carries the code (the three-stage design looks it up); an unknown one fails."""
    results = {name: translate_details(speech, sampling_rate=16000, language=name, preset=preset, seed=0)
               for name in ("de", "German", "german", "<|de|>")}
    assert {(r.text, r.language) for r in results.values()} == {(results["de"].text, "de")}
    with pytest.raises(ValueError, match="does not know the language 'klingon'"):
        translate(speech, sampling_rate=16000, language="klingon", preset=preset)


def test_encoder_runs_once(tiny, speech, monkeypatch):
    from s2st_helpers.models import load_asr

    encoder = load_asr().model.get_encoder()
    calls = []
    monkeypatch.setattr(encoder, "forward", lambda *a, _f=encoder.forward, **k: calls.append(1) or _f(*a, **k))
    translate(speech, sampling_rate=16000, temperature=0.0)
    assert len(calls) == 1  # the speed layer; the plain tier encodes for the first step and in generate
    translate(speech, sampling_rate=16000, temperature=0.0, preset="exact")
    assert len(calls) == 3


@pytest.mark.parametrize("step", ["eager", "fixed shape"])
@pytest.mark.parametrize("num_beams", [2, 5])
@pytest.mark.parametrize("cap", [3, 12, 60])
def test_written_out_beam_search_is_generates(tiny, speech, num_beams, cap, step, request):
    """Token for token, including where the token cap ends every beam: with the eager
    step, and with the fixed-shape step a GPU replays as a CUDA graph (masked
    full-length caches, the reorder inside the step), run eagerly here."""
    from s2st_helpers.fast.whisper_steps import WhisperDecoderSteps, beam_search
    from s2st_helpers.translation import whisper_features

    made = request.getfixturevalue("fixed_shape_beams") if step == "fixed shape" else None
    asr = load_asr()
    config = asr.model.generation_config
    for audio in (speech, speech[::-1].copy() * 0.5, np.roll(speech, 7000)):
        features = whisper_features(asr, audio)
        steps = WhisperDecoderSteps.encode(asr.model, features["input_features"])
        prompt = [config.decoder_start_token_id, config.lang_to_id["<|fr|>"], config.task_to_id["translate"],
                  config.no_timestamps_token_id]
        mine = beam_search(steps, prompt, cap, num_beams)
        with torch.inference_mode():
            theirs = asr.model.generate(**features, language="fr", task="translate", num_beams=num_beams,
                                        max_new_tokens=cap, temperature=0.0)
        assert mine.tolist() == theirs.tolist()
    if made is not None:  # one per window, each released
        assert len(made) == 3 and not any(s.busy.locked() for s in made)


def timestamp_cases(begin: int, eos: int, rows: int, length: int, rng) -> list[list[int]]:
    """Token sequences of one length mixing text and timestamps, as the rules see them
    mid-decoding: pairs, lone timestamps after text, timestamps that repeat."""
    pool = [5, 17, 300, eos - 1, begin, begin + 1, begin + 3, begin + 40, begin + 41]
    return [[int(t) for t in rng.choice(pool, size=length)] for _ in range(rows)]


@pytest.mark.parametrize("length", [0, 1, 2, 3, 6])
def test_timestamp_rules_are_transformers_processor(tiny, length):
    """The written-out loops' timestamp rules mask what transformers' processor masks,
    row by row, including the first token's limit and the "timestamps are likelier"
    rule (scores raised on the timestamps so that it fires for some rows)."""
    from transformers.generation.logits_process import WhisperTimeStampLogitsProcessor

    from s2st_helpers.fast.whisper_steps import timestamp_rules

    config = load_asr().model.generation_config
    begin, vocab = config.no_timestamps_token_id + 1, load_asr().model.config.vocab_size
    rng = np.random.default_rng(length)
    prompt = [config.decoder_start_token_id, config.lang_to_id["<|fr|>"], config.task_to_id["translate"]]
    processor = WhisperTimeStampLogitsProcessor(config, begin_index=len(prompt))
    fired = 0
    for trial in range(20):
        sequences = timestamp_cases(begin, config.eos_token_id, 6, length, rng)
        scores = torch.randn(6, vocab, generator=torch.Generator().manual_seed(trial)).log_softmax(-1)
        scores[:, begin:] += torch.linspace(-4.0, 6.0, 6)[:, None]
        input_ids = torch.tensor([prompt + seq for seq in sequences])
        theirs = processor(input_ids, scores)
        mine = scores.clone()
        timestamp_rules(config, mine, sequences)
        assert torch.equal(mine, theirs), sequences
        fired += int((theirs[:, :begin] == -float("inf")).all(-1).sum())
    assert fired or length == 0  # the timestamp-probability rule was exercised (the first token is one anyway)


@pytest.mark.parametrize("eos_bias", [0.0, 0.6])
@pytest.mark.parametrize("cap", [4, 40, 200])
def test_written_out_decoding_with_timestamps_is_generates(tiny, speech, cap, eos_bias, monkeypatch):
    """Greedy decoding with Whisper's timestamp rules, as a long recording's windows
    are decoded: ``generate(return_timestamps=True)``'s tokens, whether it runs to the
    cap or (with <|endoftext|> made likelier, for both) ends on its own. (Beam search
    with them is checked on the real whisper-base, in test_real_models: the tiny random
    model's timestamps are near ties, where beams part on the last bit of rounding.)"""
    from s2st_helpers.fast.whisper_steps import WhisperDecoderSteps
    from s2st_helpers.translation import whisper_features

    asr = load_asr()
    config = asr.model.generation_config
    begin = config.no_timestamps_token_id + 1
    head = asr.model.proj_out
    biased = torch.nn.Linear(head.in_features, head.out_features, bias=True)
    biased.weight = head.weight
    with torch.no_grad():
        biased.bias.zero_()[config.eos_token_id] = eos_bias
    monkeypatch.setattr(asr.model, "proj_out", biased)
    stamps, stopped = 0, 0
    for audio in (speech, speech[::-1].copy() * 0.5, np.roll(speech, 7000), np.tile(speech, 14)):
        features = whisper_features(asr, audio)
        steps = WhisperDecoderSteps.encode(asr.model, features["input_features"])
        prompt = [config.decoder_start_token_id, config.lang_to_id["<|fr|>"], config.task_to_id["translate"]]
        mine = steps.greedy(prompt, cap, timestamps=True)
        with torch.inference_mode():
            theirs = asr.model.generate(**features, language="fr", task="translate", num_beams=1,
                                        max_new_tokens=cap, temperature=0.0, return_timestamps=True,
                                        force_unique_generate_call=True)  # one window, decoded once
        theirs = theirs[0, len(prompt):].tolist()  # with timestamps generate keeps the prompt...
        if theirs and theirs[-1] == config.eos_token_id:  # ...and the end of text
            theirs, stopped = theirs[:-1], stopped + 1
        assert mine[0].tolist() == theirs
        stamps += sum(t >= begin for t in theirs)
    assert stamps  # the rules had timestamps to act on
    assert bool(stopped) == (eos_bias > 0 and cap > 4)  # decoding ended on <|endoftext|> where it could


def test_no_beam_graph_off_the_gpu(tiny, speech):
    from s2st_helpers.fast import cuda_graph, whisper_steps
    from s2st_helpers.translation import whisper_features

    asr = load_asr()
    steps = whisper_steps.WhisperDecoderSteps.encode(asr.model, whisper_features(asr, speech)["input_features"])
    assert whisper_steps._graphed_beams(steps, 5, 10) is None
    steps.feed([1, 2, 3, 4])
    static = cuda_graph.StaticWhisperBeams(asr.model, 5)
    assert static.fits(steps, 444) and not static.fits(steps, 445)  # 448 positions in all
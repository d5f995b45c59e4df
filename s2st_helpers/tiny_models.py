"""Tiny random Whisper, SpeechT5, HiFi-GAN, MMS-TTS and NLLB, built from configs with no download.

Introduced in ``00_setup`` (offline practice). They have the real architectures and
the real interfaces (tokenizers included, trained here on a few sentences), so every
line of the workbook runs on them in seconds; what they say is noise. The tests and
the notebook CI use them through the ``S2ST_*`` variables::

    python3 -m s2st_helpers.tiny_models DIR   # prints the export lines
"""

from __future__ import annotations

import json
import string
import sys
import tempfile
from pathlib import Path

CORPUS = ["the quick brown fox jumps over the lazy dog", "hello world, how are you today?",
          "speech to speech translation with whisper and speecht5", string.ascii_letters,
          "0123456789 .,!?'-:;\"()"]
#: for the text translation model's vocabulary: a few words in the source languages
MT_CORPUS = CORPUS + ["le chat dort sur la table", "der Hund schläft im Garten", "el perro come la comida",
                      "il gatto dorme", "o menino lê um livro", "de kat slaapt", "кошка спит", "猫在睡觉",
                      "ÀÂÄÇÉÈÊËÎÏÔÖÙÛÜßÑñõãåøæœ"]
LATIN_LETTERS = string.ascii_lowercase + "àâäçéèêëîïôöùûüßñõãåøæœáíóúőűşğıąćęłńśźżăâîșț"
STAMP = ".complete"
#: for the notebooks: SpeechT5's real text limit, and room for 256 babbled tokens at maxlenratio 20
NOTEBOOK_LIMITS = {"max_text_positions": 600, "max_speech_positions": 8192}


def build_tiny_models(out_dir, *, max_text_positions: int = 60, max_speech_positions: int = 400) -> dict[str, str]:
    """Write the tiny checkpoints under ``out_dir``; returns their paths by role.

    The position limits are small by default, so that the unit tests exercise text
    chunking and the length clamp with short sentences. The notebooks run the
    tutorial's uncut calls, so they take the real model's 600 text positions and
    room for ``generate_speech``'s default length (:data:`NOTEBOOK_LIMITS`).
    """
    import torch

    out = Path(out_dir).expanduser()
    paths = {"asr": out / "whisper-tiny-random", "tts": out / "speecht5-tiny-random",
             "vocoder": out / "hifigan-tiny-random", "mms": out / "mms-tts-tiny-random",
             "mt": out / "nllb-tiny-random"}
    stamp = json.dumps([max_text_positions, max_speech_positions])
    if all((p / STAMP).exists() and (p / STAMP).read_text() == stamp for p in paths.values()):
        return {k: str(v) for k, v in paths.items()}
    state = torch.random.get_rng_state()
    torch.manual_seed(0)
    try:
        _whisper(paths["asr"])
        _speecht5(paths["tts"], max_text_positions, max_speech_positions)
        _hifigan(paths["vocoder"])
        _mms(paths["mms"])
        _nllb(paths["mt"])
    finally:
        torch.random.set_rng_state(state)
    for p in paths.values():
        (p / STAMP).write_text(stamp)
    return {k: str(v) for k, v in paths.items()}


def _whisper(path: Path) -> None:
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import (GenerationConfig, WhisperConfig, WhisperFeatureExtractor,
                              WhisperForConditionalGeneration, WhisperProcessor, WhisperTokenizer)
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.train_from_iterator(CORPUS, trainers.BpeTrainer(
        vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    with tempfile.TemporaryDirectory() as tmp:
        bpe.model.save(tmp)  # vocab.json + merges.txt, what WhisperTokenizer reads
        tokenizer = WhisperTokenizer(f"{tmp}/vocab.json", f"{tmp}/merges.txt", unk_token="<|endoftext|>",
                                     bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                     pad_token="<|endoftext|>")
    # Whisper's special tokens, in Whisper's order: <|nospeech|> sits right before
    # <|notimestamps|>, and the timestamps follow it
    specials = (["<|endoftext|>", "<|startoftranscript|>"] + [f"<|{c}|>" for c in LANGUAGES]
                + ["<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>",
                   "<|nospeech|>", "<|notimestamps|>"])
    tokenizer.add_special_tokens({"additional_special_tokens": specials})
    tokenizer.add_tokens([f"<|{i * 0.02:.2f}|>" for i in range(1501)])
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in specials}
    eot, sot = ids["<|endoftext|>"], ids["<|startoftranscript|>"]
    # random weights would mostly pick special or timestamp tokens, which decode to "":
    # suppress the specials, and give timestamps zero logits (below, through the tied
    # embedding) rather than none, since long-form decoding must still be able to pick them
    first_timestamp = ids["<|notimestamps|>"] + 1
    suppress = sorted(set(range(sot, first_timestamp)) - {eot})

    config = WhisperConfig(
        vocab_size=len(tokenizer), num_mel_bins=80, d_model=64, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=128, decoder_ffn_dim=128,
        max_source_positions=1500, max_target_positions=448, bos_token_id=eot, eos_token_id=eot,
        pad_token_id=eot, decoder_start_token_id=sot, suppress_tokens=suppress, begin_suppress_tokens=[eot])
    model = WhisperForConditionalGeneration(config).eval()
    with torch.no_grad():
        model.model.decoder.embed_tokens.weight[first_timestamp:] = 0.0
    model.generation_config = GenerationConfig(
        bos_token_id=eot, eos_token_id=eot, pad_token_id=eot, decoder_start_token_id=sot,
        suppress_tokens=suppress, begin_suppress_tokens=[eot], is_multilingual=True,
        lang_to_id={f"<|{c}|>": ids[f"<|{c}|>"] for c in LANGUAGES},
        task_to_id={"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]},
        no_timestamps_token_id=ids["<|notimestamps|>"], prev_sot_token_id=ids["<|startofprev|>"],
        max_initial_timestamp_index=50, max_length=448, alignment_heads=[[1, 0]], return_timestamps=False)
    model.save_pretrained(path)
    processor = WhisperProcessor(WhisperFeatureExtractor(feature_size=80), tokenizer)
    processor.save_pretrained(path)


def _speecht5(path: Path, max_text_positions: int, max_speech_positions: int) -> None:
    import sentencepiece as spm
    import torch
    from transformers import (SpeechT5Config, SpeechT5FeatureExtractor, SpeechT5ForTextToSpeech,
                              SpeechT5Processor, SpeechT5Tokenizer)

    chars = string.ascii_letters + " .,!?'-:;\"()"  # no digits, like the real vocabulary
    with tempfile.TemporaryDirectory() as tmp:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter([chars] * 20 + CORPUS[:3] * 20), model_prefix=f"{tmp}/spm_char",
            model_type="char", vocab_size=len(set(chars)) + 4, character_coverage=1.0,
            bos_id=0, pad_id=1, eos_id=2, unk_id=3, minloglevel=3)
        tokenizer = SpeechT5Tokenizer(vocab_file=f"{tmp}/spm_char.model")
        processor = SpeechT5Processor(feature_extractor=SpeechT5FeatureExtractor(), tokenizer=tokenizer)
        config = SpeechT5Config(
            vocab_size=len(tokenizer), hidden_size=32, encoder_layers=1, decoder_layers=1,
            encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
            speech_decoder_prenet_units=32, speech_decoder_postnet_units=32, speech_decoder_postnet_layers=2,
            max_text_positions=max_text_positions, max_speech_positions=max_speech_positions,
            speaker_embedding_dim=512)
        model = SpeechT5ForTextToSpeech(config).eval()
        with torch.no_grad():  # the stop head never fires, so output length = maxlenratio * tokens
            model.speech_decoder_postnet.prob_out.weight.zero_()
            model.speech_decoder_postnet.prob_out.bias.fill_(-20.0)
        model.save_pretrained(path)
        processor.save_pretrained(path)


def _hifigan(path: Path) -> None:
    from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig

    config = SpeechT5HifiGanConfig(upsample_initial_channel=32, resblock_kernel_sizes=[3],
                                   resblock_dilation_sizes=[[1, 3]])
    SpeechT5HifiGan(config).eval().save_pretrained(path)


def _mms(path: Path) -> None:
    """A tiny VITS (MMS-TTS) with the Latin letters of the workbook's target languages."""
    from transformers import VitsConfig, VitsModel, VitsTokenizer

    vocab = {c: i for i, c in enumerate(dict.fromkeys(" '.,!?-" + LATIN_LETTERS))}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "vocab.json").write_text(json.dumps(vocab))
        tokenizer = VitsTokenizer(f"{tmp}/vocab.json", language="fra", add_blank=True, normalize=True,
                                  phonemize=False)
    config = VitsConfig(
        vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, ffn_dim=32,
        flow_size=16, spectrogram_bins=33, upsample_initial_channel=16, upsample_rates=[8, 8, 4],
        upsample_kernel_sizes=[16, 16, 8], resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]],
        prior_encoder_num_flows=1, prior_encoder_num_wavenet_layers=1, posterior_encoder_num_wavenet_layers=1,
        duration_predictor_num_flows=1, duration_predictor_filter_channels=16, depth_separable_num_layers=1,
        sampling_rate=16000)
    VitsModel(config).eval().save_pretrained(path)
    tokenizer.save_pretrained(path)


def _nllb(path: Path):
    """A tiny NLLB-200 (an M2M100 model with NLLB's tokenizer and its 202 FLORES codes)."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    bpe.train_from_iterator(MT_CORPUS, trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<s>", "<pad>", "</s>", "<unk>"], show_progress=False))
    trained = json.loads(bpe.to_str())["model"]
    tokenizer = NllbTokenizer(vocab=trained["vocab"], merges=[tuple(m) for m in trained["merges"]])
    config = M2M100Config(
        vocab_size=len(tokenizer), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2,
        tie_word_embeddings=False, init_std=0.5)
    model = M2M100ForConditionalGeneration(config).eval()
    # random weights would mostly pick language codes and <s>, which decode to "":
    # one hidden dimension, held high by the last layer norm, scores them far down
    specials = sorted(set(tokenizer.all_special_ids) - {tokenizer.eos_token_id})
    with torch.no_grad():
        model.model.decoder.layer_norm.bias[0] = 10.0
        model.lm_head.weight[specials] = 0.0
        model.lm_head.weight[specials, 0] = -5.0
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return model


def build_tiny_m2m100(path) -> str:
    """A tiny M2M100 (ISO 639-1 language tokens "__fr__", a sentencepiece vocabulary),
    the other text translation family the three-stage design takes."""
    import sentencepiece as spm
    from transformers import M2M100Config, M2M100ForConditionalGeneration, M2M100Tokenizer

    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(MT_CORPUS * 10), model_prefix=f"{tmp}/spm", vocab_size=120,
            character_coverage=1.0, bos_id=0, pad_id=1, eos_id=2, unk_id=3, minloglevel=3)
        processor = spm.SentencePieceProcessor(model_file=f"{tmp}/spm.model")
        vocab = {processor.id_to_piece(i): i for i in range(processor.get_piece_size())}
        (Path(tmp) / "vocab.json").write_text(json.dumps(vocab))
        tokenizer = M2M100Tokenizer(f"{tmp}/vocab.json", f"{tmp}/spm.model")
    # the language tokens follow the sentencepiece pieces, and eight "madeup words" follow them
    vocab_size = max(tokenizer.lang_token_to_id.values()) + 1 + tokenizer.num_madeup_words
    config = M2M100Config(
        vocab_size=vocab_size, d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2)
    M2M100ForConditionalGeneration(config).eval().save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def main(argv=None) -> None:
    args = sys.argv[1:] if argv is None else argv
    out = args[0] if args else str(Path.home() / ".cache" / "s2st-tiny")
    paths = build_tiny_models(out, **NOTEBOOK_LIMITS)
    names = {"asr": "S2ST_ASR_MODEL", "tts": "S2ST_TTS_MODEL", "vocoder": "S2ST_VOCODER",
             "mms": "S2ST_MMS_MODEL", "mt": "S2ST_MT_MODEL"}
    for role, var in names.items():
        print(f"export {var}={json.dumps(paths[role])}")
    print("export HF_HUB_OFFLINE=1  # nothing asks the hub, so nothing waits on it")


if __name__ == "__main__":
    main()

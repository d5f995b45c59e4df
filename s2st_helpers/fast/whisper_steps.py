"""Whisper's greedy decoding and beam search written out, one step at a time.

Introduced in ``06_speed``; the plain tier is :mod:`s2st_helpers.translation`.
``generate`` spends more time per token in Python (logits processors, cache
bookkeeping, mask building) than whisper-base's decoder takes on a laptop. These
loops do the decoder's arithmetic in the library's order, apply the same
suppressions ``generate`` applies (and, for the windows of a long recording, its
timestamp rules: :func:`timestamp_rules`), and keep the first step's cache, so the
step that gives the language and the no-speech probability is also the start of the
decoding. The fallback ladder's sampled passes are written out too
(:meth:`WhisperDecoderSteps.sample`): with a seed they draw from a generator of their
own, with ``generate``'s draws for the same seed.

Beam search decodes all beams as one batch per step, so each weight is read once
per step for all of them; the beams' self-attention caches are reordered in place,
and the cross-attention reads the encoder's keys once for all beams (the beams are
its query positions). Its bookkeeping is ``generate``'s (transformers 5): the top
2k continuations, finished beams scored by length, the same early-stop test. The
tests check that the text is ``generate``'s, token for token, for both. On a GPU the
beam step is replayed as a CUDA graph (:mod:`s2st_helpers.fast.cuda_graph`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import GenerationConfig
from transformers.generation import LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper
from transformers.modeling_outputs import BaseModelOutput

from ..translation import PROMPT_TOKENS
from .half_weights import half_linear

CUDA_GRAPHS = True  # on a GPU, replay the beam step as a CUDA graph (cuda_graph.py); off: the eager loop


class WhisperDecoderSteps:
    """Whisper's decoder over one encoded 30 s window, fed a token at a time."""

    def __init__(self, model, encoded: torch.Tensor):
        self.encoded = BaseModelOutput(last_hidden_state=encoded)
        decoder = model.model.decoder
        self.model, self.decoder, self.layers = model, decoder, list(decoder.layers)
        attn = self.layers[0].self_attn
        self.heads, self.head_dim = attn.num_heads, attn.head_dim
        shape = (len(self.layers), 1, self.heads, model.config.max_target_positions, self.head_dim)
        self.keys, self.values = encoded.new_empty(shape), encoded.new_empty(shape)
        # made contiguous once: a transposed view here is copied by SDPA at every step
        self.cross = [(self._split(layer.encoder_attn.k_proj(encoded)).contiguous(),
                       self._split(layer.encoder_attn.v_proj(encoded)).contiguous())
                      for layer in self.layers]
        self.tokens: list[int] = []

    @classmethod
    def encode(cls, model, window: torch.Tensor, low_precision: bool = False) -> "WhisperDecoderSteps":
        """Run the encoder on one 30 s window of features, once, and start here;
        ``low_precision``: in bfloat16 or float16 where the device computes it
        natively (:func:`s2st_helpers.fast.bf16.encode`)."""
        with torch.inference_mode():
            if low_precision:
                from .bf16 import encode

                return cls(model, encode(model, window))
            return cls(model, model.get_encoder()(window).last_hidden_state)

    def _split(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, H*D) -> (B, H, T, D)
        return x.view(x.shape[0], -1, self.heads, self.head_dim).transpose(1, 2)

    def _attend(self, attn, hidden, keys, values, linear=None, mask=None) -> torch.Tensor:
        linear = linear or _module
        # scaled first, as upstream does; contiguous, or SDPA takes its slow path
        query = self._split((linear(attn.q_proj, hidden) * attn.scaling).contiguous())
        out = F.scaled_dot_product_attention(query, keys, values, attn_mask=mask, scale=1.0)
        return linear(attn.out_proj, out.transpose(1, 2).reshape(hidden.shape))

    def step(self, token: int | list[int], logits: bool = True) -> torch.Tensor | None:
        """Feed one token, or several in one pass (each weight read once for all of
        them, as ``generate`` reads a prompt); returns the logits after the last one
        (float32, shape (vocab,)), unless ``logits=False`` (inside a prompt they are not
        needed, and the output projection over 51,865 tokens is a third of a step)."""
        tokens = [token] if isinstance(token, int) else list(token)
        n, k = len(self.tokens), len(tokens)
        ids = torch.tensor([tokens], device=self.keys.device)
        hidden = self.decoder.embed_tokens(ids) + self.decoder.embed_positions.weight[n:n + k]
        mask = None
        if k > 1:  # each new token sees the tokens before it and itself
            seen = torch.arange(n + k, device=ids.device) <= torch.arange(n, n + k, device=ids.device)[:, None]
            mask = torch.zeros(k, n + k, dtype=hidden.dtype, device=ids.device).masked_fill(~seen, -float("inf"))
        for i, layer in enumerate(self.layers):
            attn, normed = layer.self_attn, layer.self_attn_layer_norm(hidden)
            self.keys[i, :, :, n:n + k] = self._split(_module(attn.k_proj, normed))
            self.values[i, :, :, n:n + k] = self._split(_module(attn.v_proj, normed))
            hidden = hidden + self._attend(attn, normed, self.keys[i, :, :, :n + k], self.values[i, :, :, :n + k],
                                           mask=mask)
            hidden = hidden + self._attend(layer.encoder_attn, layer.encoder_attn_layer_norm(hidden), *self.cross[i])
            ff = _module(layer.fc1, layer.final_layer_norm(hidden))
            hidden = hidden + _module(layer.fc2, layer.activation_fn(ff))
        self.tokens.extend(tokens)
        if not logits:
            return None
        return _module(self.model.proj_out, self.decoder.layer_norm(hidden[:, -1:]))[0, -1].float()

    @torch.inference_mode()
    def feed(self, prompt: list[int]) -> torch.Tensor:
        """Feed the part of ``prompt`` not fed yet, in one pass; returns the last logits."""
        if self.tokens != prompt[:len(self.tokens)] or len(prompt) <= len(self.tokens):
            raise ValueError(f"prompt {prompt} does not continue the tokens fed so far {self.tokens}")
        return self.step(prompt[len(self.tokens):])

    @torch.inference_mode()
    def greedy(self, prompt: list[int], max_new_tokens: int, timestamps: bool = False) -> torch.Tensor:
        """Greedy decoding after ``prompt`` until <|endoftext|> or ``max_new_tokens``
        tokens (<|endoftext|> included); returns the new tokens without it, shape
        (1, n), as ``generate`` does for a short clip. ``timestamps``: with Whisper's
        timestamp rules (:func:`timestamp_rules`), for a prompt without <|notimestamps|>."""
        return self._decode(prompt, max_new_tokens, timestamps, lambda scores: int(scores.argmax()))

    def sample(self, prompt: list[int], max_new_tokens: int, warpers,
               generator: torch.Generator | None = None, timestamps: bool = False) -> torch.Tensor:
        """Like :meth:`greedy`, drawing each token as ``generate`` samples a rung of the
        fallback ladder: the same processors, then ``warpers`` (:func:`sampling_warpers`),
        then one ``torch.multinomial`` draw. With the same generator state, the same
        tokens. ``generator``: draws from it instead of PyTorch's global one (which
        another thread may be drawing from)."""
        def draw(scores: torch.Tensor) -> int:
            probs = F.softmax(warpers(None, scores[None]), dim=-1)  # (1, vocab), as generate draws
            return int(torch.multinomial(probs, num_samples=1, generator=generator))

        return self._decode(prompt, max_new_tokens, timestamps, draw)

    @torch.inference_mode()
    def _decode(self, prompt: list[int], max_new_tokens: int, timestamps: bool, pick) -> torch.Tensor:
        config = self.model.generation_config
        suppress = torch.tensor(config.suppress_tokens or [], dtype=torch.long)
        at_begin = torch.tensor(config.begin_suppress_tokens or [], dtype=torch.long)
        logits, out = self.restart(prompt), []
        while len(out) < max_new_tokens:
            scores = logits.clone()
            scores[suppress.to(scores.device)] = -float("inf")
            if not out:
                scores[at_begin.to(scores.device)] = -float("inf")
            if timestamps:
                timestamp_rules(config, scores[None], [out])
            token = pick(scores)
            if token == config.eos_token_id:
                break
            out.append(token)
            if len(out) < max_new_tokens:
                logits = self.step(token)
        return torch.tensor([out], dtype=torch.long, device=self.keys.device)

    @torch.inference_mode()
    def restart(self, prompt: list[int]) -> torch.Tensor:
        """:meth:`feed` for a pass that may follow another: tokens fed after the
        prompt's last one are forgotten (their cache positions are written over), and
        the prompt's last token is fed again for its logits."""
        if len(self.tokens) >= len(prompt) and self.tokens[:len(prompt)] == prompt:
            del self.tokens[len(prompt) - 1:]
        return self.feed(prompt)


class WhisperBeamSteps:
    """The decoder over one window for ``num_beams`` beams at once, continuing from
    the state of a :class:`WhisperDecoderSteps` after the prompt."""

    def __init__(self, steps: WhisperDecoderSteps, num_beams: int, max_new_tokens: int | None = None):
        self.steps, self.beams, self.length = steps, num_beams, len(steps.tokens)
        # each beam's own self-attention cache, as long as this search can go (copying
        # all 448 positions for five beams took longer than a decoder step); all
        # start as the prompt's
        n, capacity = self.length, steps.keys.shape[3]
        if max_new_tokens is not None:
            capacity = min(capacity, n + max_new_tokens)
        shape = list(steps.keys.shape)
        shape[1], shape[3] = num_beams, capacity
        self.keys, self.values = steps.keys.new_empty(shape), steps.values.new_empty(shape)
        self.keys[:, :, :, :n] = steps.keys[:, :, :, :n]
        self.values[:, :, :, :n] = steps.values[:, :, :, :n]
        from .whisper_script import scripted  # it builds on this module's step

        self.scripted = scripted(steps)  # the same step from TorchScript, on a CPU (whisper_script.py)

    def reorder(self, parents: torch.Tensor) -> None:
        """Beam b continues beam ``parents[b]``: copy the caches into place (only the
        rows of beams that changed parent; the copy on the right is made first)."""
        n, own = self.length, torch.arange(len(parents), device=parents.device)
        moved = parents != own
        if bool(moved.any()):
            rows, sources = own[moved], parents[moved]
            self.keys[:, rows, :, :n] = self.keys[:, sources, :, :n]
            self.values[:, rows, :, :n] = self.values[:, sources, :, :n]

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Feed one token per beam (shape (B,)); returns the next-token logits (B, vocab)."""
        steps, n, beams = self.steps, self.length, len(tokens)
        if self.scripted is not None:
            logits = self.scripted(tokens, self.keys, self.values, n)
            self.length += 1
            return logits
        decoder = steps.decoder
        hidden = decoder.embed_tokens(tokens[:, None]) + decoder.embed_positions.weight[n:n + 1]
        for i, layer in enumerate(steps.layers):
            attn, normed = layer.self_attn, layer.self_attn_layer_norm(hidden)
            self.keys[i, :, :, n] = _linear(attn.k_proj, normed).view(beams, steps.heads, steps.head_dim)
            self.values[i, :, :, n] = _linear(attn.v_proj, normed).view(beams, steps.heads, steps.head_dim)
            hidden = hidden + steps._attend(attn, normed, self.keys[i, :, :, :n + 1], self.values[i, :, :, :n + 1],
                                            _linear)
            # the encoder's keys are the same for every beam: the beams are one sequence of queries
            normed = layer.encoder_attn_layer_norm(hidden).transpose(0, 1)
            hidden = hidden + steps._attend(layer.encoder_attn, normed, *steps.cross[i], _linear).transpose(0, 1)
            ff = _linear(layer.fc1, layer.final_layer_norm(hidden))
            hidden = hidden + _module(layer.fc2, layer.activation_fn(ff))
        self.length += 1
        return _linear(steps.model.proj_out, decoder.layer_norm(hidden)[:, -1]).float()


def _module(layer: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """``layer(x)``, reading float16 copies of the weights where they are float16
    values (:func:`s2st_helpers.fast.half_weights.half_linear`)."""
    half = half_linear(layer)
    return layer(x) if half is None else half(x)


def _linear(layer: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """``layer(x)`` for a few rows: reading float16 copies of the weights where they
    are float16 values (:func:`s2st_helpers.fast.half_weights.half_linear`), else
    computed as weight @ x.T: on a CPU the library's matrix product reads the weight up
    to three times faster in this orientation than ``F.linear`` does with five rows
    (51,865 x 512 output projection: 3.1 ms against 9.4 ms). In float32 not for fc2
    (2048 inputs), where it did not pay (0.38 s against 0.35 s for it_001's beam
    search). The result may be a transposed view."""
    half = half_linear(layer)
    if half is not None:
        return half(x)
    flat = x.reshape(-1, x.shape[-1]).T
    out = layer.weight @ flat if layer.bias is None else torch.addmm(layer.bias[:, None], layer.weight, flat)
    return out.T.reshape(*x.shape[:-1], out.shape[0])


@torch.inference_mode()
def beam_search(steps: WhisperDecoderSteps, prompt: list[int], max_new_tokens: int, num_beams: int = 5,
                length_penalty: float = 1.0, timestamps: bool = False) -> torch.Tensor:
    """``generate``'s beam search after ``prompt`` (transformers 5, one sequence,
    ``early_stopping=False``); returns the best hypothesis's new tokens without
    <|endoftext|>, shape (1, n). ``timestamps``: with Whisper's timestamp rules
    (:func:`timestamp_rules`), for a prompt without <|notimestamps|>."""
    config = steps.model.generation_config
    eos = config.eos_token_id
    suppress = torch.tensor(config.suppress_tokens or [], dtype=torch.long)
    at_begin = torch.tensor(config.begin_suppress_tokens or [], dtype=torch.long)
    logits = steps.restart(prompt)
    vocab, start = logits.shape[-1], len(prompt)
    max_length = start + max_new_tokens
    graphed = _graphed_beams(steps, num_beams, max_new_tokens)
    try:
        beams = graphed or WhisperBeamSteps(steps, num_beams, max_new_tokens)
        if graphed is not None:
            graphed.start(steps)
        logits = logits.expand(num_beams, -1)
        keep = 2 * num_beams  # enough continuations for num_beams to go on when some end
        top_mask = torch.arange(keep, device=logits.device) < num_beams
        running: list[list[int]] = [[] for _ in range(num_beams)]
        running_scores = torch.full((num_beams,), -1.0e9, device=logits.device)
        running_scores[0] = 0.0  # all beams hold the prompt: only the first may go on
        done: list[list[int] | None] = [None] * num_beams
        done_scores = torch.full((num_beams,), -1.0e9, device=logits.device)
        done_flags = torch.zeros(num_beams, dtype=torch.bool, device=logits.device)
        improvable = True
        length = start
        while True:
            log_probs = F.log_softmax(logits, dim=-1)  # the processors act on log-probabilities in beam search
            log_probs[:, suppress.to(log_probs.device)] = -float("inf")
            if length == start:
                log_probs[:, at_begin.to(log_probs.device)] = -float("inf")
            if timestamps:
                timestamp_rules(config, log_probs, running)
            scores = (log_probs + running_scores[:, None]).reshape(1, -1)
            top_scores, top_index = torch.topk(scores, k=keep)
            top_scores, top_index = top_scores[0], top_index[0]
            parents, tokens = top_index // vocab, top_index % vocab
            candidates = [running[p] + [t] for p, t in zip(parents.tolist(), tokens.tolist())]
            ends = (tokens == eos) | (length + 1 >= max_length)

            # the beams that go on: the best continuations that did not end
            going_scores = top_scores + ends.to(torch.float32) * -1.0e9
            going = torch.topk(going_scores, k=num_beams)[1]
            # the hypotheses kept: the best num_beams by length-normalised score, old or new
            finished = top_scores / ((length + 1 - start) ** length_penalty)
            finished += float(not improvable) * -1.0e9
            finished += (~(ends & top_mask)) * -1.0e9
            merged = torch.topk(torch.cat((done_scores, finished)), k=num_beams)[1].tolist()
            pool = done + candidates
            flags = torch.cat((done_flags, ends & top_mask))
            done_scores = torch.cat((done_scores, finished))[merged]
            done, done_flags = [pool[m] for m in merged], flags[merged]
            running = [candidates[g] for g in going.tolist()]
            running_scores = going_scores[going]
            length += 1

            best_possible = running_scores[0] / ((length - start) ** length_penalty)
            worst_done = torch.where(done_flags, done_scores.min(), -1.0e9)
            improvable = improvable and bool((best_possible > worst_done).any())
            if not improvable or bool(ends.all()):
                break
            beams.reorder(parents[going])
            logits = beams.step(tokens[going])
    finally:
        if graphed is not None:
            graphed.busy.release()
    best = done[0] or []
    best = best[:-1] if best and best[-1] == eos else best
    return torch.tensor([best], dtype=torch.long, device=steps.keys.device)


def timestamp_rules(config, scores: torch.Tensor, sequences: list[list[int]]) -> None:
    """transformers' ``WhisperTimeStampLogitsProcessor``, in place on ``scores``
    (one row per sequence; ``sequences``: each row's tokens after the prompt).

    Timestamps come in pairs (a lone one before <|endoftext|>), never go back, and the
    first token is a timestamp within ``max_initial_timestamp_index`` (1 s); when the
    timestamps together are likelier than any one text token, a timestamp it is."""
    inf = -float("inf")
    begin, eos = config.no_timestamps_token_id + 1, config.eos_token_id
    scores[:, config.no_timestamps_token_id] = inf
    lowest = []
    for row, seq in enumerate(sequences):
        last = len(seq) >= 1 and seq[-1] >= begin
        penultimate = len(seq) < 2 or seq[-2] >= begin
        if last:
            if penultimate:  # a pair just closed: text next
                scores[row, begin:] = inf
            else:  # text then one timestamp: another timestamp, or the end
                scores[row, :eos] = inf
        stamps = [t for t in seq if t >= begin]
        lowest.append((stamps[-1] if last and not penultimate else stamps[-1] + 1) if stamps else begin)
    vocab = torch.arange(scores.shape[-1], device=scores.device)
    floor = torch.tensor(lowest, device=scores.device)[:, None]
    scores.masked_fill_((vocab >= begin) & (vocab < floor), inf)
    if all(not seq for seq in sequences):  # the first token
        scores[:, :begin] = inf
        initial = getattr(config, "max_initial_timestamp_index", None)
        if initial is not None:
            scores[:, begin + initial + 1:] = inf
    logprobs = F.log_softmax(scores.float(), dim=-1)
    stamp_logprob = logprobs[:, begin:].logsumexp(dim=-1)
    best_text = logprobs[:, :begin].max(dim=-1).values
    scores[:, :begin].masked_fill_((stamp_logprob > best_text)[:, None], inf)


def sampling_warpers(config, temperature: float) -> LogitsProcessorList | None:
    """The warpers ``generate`` samples a rung of the ladder with: the temperature,
    then top-k. transformers applies its default top_k of 50 where the model's
    generation config sets none (OpenAI's Whisper samples from the whole vocabulary).
    None where the config asks for a warper these do not cover."""
    defaults = GenerationConfig._get_default_generation_params()

    def value(name):
        set_ = getattr(config, name, None)
        return defaults.get(name) if set_ is None else set_

    if (value("top_p") < 1.0 or value("typical_p") < 1.0 or value("epsilon_cutoff") > 0.0
            or value("eta_cutoff") > 0.0 or value("min_p") is not None or value("top_h") is not None):
        return None
    warpers = LogitsProcessorList([TemperatureLogitsWarper(temperature)] if temperature != 1.0 else [])
    if value("top_k"):
        warpers.append(TopKLogitsWarper(value("top_k")))
    return warpers


def _graphed_beams(steps: WhisperDecoderSteps, num_beams: int, max_new_tokens: int):
    """The CUDA-graph beam step (:mod:`s2st_helpers.fast.cuda_graph`) on a GPU, unless
    ``CUDA_GRAPHS`` is off, another thread is using it or the search does not fit."""
    if not CUDA_GRAPHS or steps.keys.device.type != "cuda":
        return None
    from .cuda_graph import graphed_beams

    return graphed_beams(steps, num_beams, max_new_tokens)


def generate_short(asr, steps: WhisperDecoderSteps, features: dict, options: dict,
                   seed: int | None = None) -> torch.Tensor:
    """Whisper's ``generate`` with its temperature fallback, reusing the encoder output.

    Each rung of the ladder runs on the first step's state (:class:`WhisperDecoderSteps`):
    at temperature 0 greedy, or beam search with ``num_beams``; above it, sampling
    (:meth:`~WhisperDecoderSteps.sample`). Each pass is judged with transformers' own
    compression ratio, and the first that passes (or the last) is the result, as in
    ``generate``. ``seed``: the sampling draws from a generator of its own, seeded
    with it, so the result is the plain tier's after ``torch.manual_seed(seed)``,
    whatever other threads draw meanwhile; ``None`` draws from PyTorch's global one,
    as ``generate`` does. Options the loops do not cover go to ``generate`` (with the
    encoder output for the first pass, as transformers cannot fall back when given
    it; its sampling then draws from the global generator, seeded with ``seed``).
    """
    options = dict(options)
    ladder = options.pop("temperature", 0.0)
    ladder = tuple(ladder) if isinstance(ladder, (tuple, list)) else (ladder,)
    threshold = options.pop("compression_ratio_threshold", None)
    prompt = _written_out_prompt(asr, options)
    config = asr.model.generation_config
    warpers = {t: sampling_warpers(config, t) for t in ladder if t > 0.0}
    if prompt is None or None in warpers.values():
        return _generate_short(asr, steps, features, options, ladder, threshold, seed)
    beams, timestamps = options.get("num_beams", 1), bool(options.get("return_timestamps"))
    cap = new_token_cap(asr, options, len(prompt))
    generator = None
    for rung, temperature in enumerate(ladder):
        if temperature == 0.0:
            ids = (beam_search(steps, prompt, cap, beams, timestamps=timestamps) if beams > 1
                   else steps.greedy(prompt, cap, timestamps=timestamps))
        else:  # generate samples one sequence, and keeps to one for any rung after
            beams = 1
            if generator is None and seed is not None:
                generator = torch.Generator(device=steps.keys.device).manual_seed(seed)
            ids = steps.sample(prompt, cap, warpers[temperature], generator, timestamps=timestamps)
        if (threshold is None or rung == len(ladder) - 1
                or compression_ratio(asr, ids, options, prompt) <= threshold):
            return ids
    raise AssertionError("unreachable: the last rung is always the result")


def _generate_short(asr, steps, features, options, ladder, threshold, seed):
    """:func:`generate_short` through ``generate``, for options the loops do not cover."""
    timestamps = bool(options.get("return_timestamps"))
    # sampling from the start: nothing to reuse; timestamps: generate's rows then hold
    # the prompt too, which the fallback test below does not expect
    if ladder[0] == 0.0 and not timestamps:
        ids = asr.model.generate(encoder_outputs=steps.encoded, temperature=0.0, **options)
        if threshold is None or len(ladder) == 1 or compression_ratio(asr, ids, options) <= threshold:
            return ids
        ladder = ladder[1:]
    if seed is not None:
        torch.manual_seed(seed)
    return asr.model.generate(**features, temperature=ladder, compression_ratio_threshold=threshold, **options)


def _written_out_prompt(asr, options: dict) -> list[int] | None:
    """The prompt for the written-out loops, or None where only ``generate`` does
    what was asked (other generation options; a language name is read as its code
    before this, by :func:`~s2st_helpers.translation.language_code`). With
    ``return_timestamps`` it has no <|notimestamps|>, as ``generate``'s has none
    (``force_unique_generate_call`` changes nothing for one window)."""
    config = asr.model.generation_config
    language, task = options.get("language"), options.get("task", "translate")
    if set(options) - {"num_beams", "max_length", "task", "language", "return_timestamps",
                       "force_unique_generate_call"}:
        return None
    if f"<|{language}|>" not in config.lang_to_id or task not in config.task_to_id:
        return None
    prompt = [config.decoder_start_token_id, config.lang_to_id[f"<|{language}|>"], config.task_to_id[task]]
    return prompt if options.get("return_timestamps") else prompt + [config.no_timestamps_token_id]


def new_token_cap(asr, options: dict, prompt_length: int = PROMPT_TOKENS) -> int:
    """Most tokens a short-form ``generate`` call makes after a prompt of
    ``prompt_length`` tokens (4, or 3 with timestamps). Whisper's ``generate`` adds
    the prompt's length to ``max_length`` (so a ``max_length`` of m allows m new
    tokens), within the model's 448 positions."""
    positions = asr.model.config.max_target_positions
    if options.get("max_new_tokens"):
        return min(options["max_new_tokens"], positions - prompt_length)
    max_length = options.get("max_length") or asr.model.generation_config.max_length
    return min(max_length + prompt_length, positions) - prompt_length


def compression_ratio(asr, ids: torch.Tensor, options: dict, prompt: list[int] | None = None) -> float:
    """transformers' compression ratio of a short-form result: the tokens after the
    prompt, with the end-of-text token when decoding stopped on it."""
    tokens = ids[0]
    cap = new_token_cap(asr, options, len(prompt) if prompt else PROMPT_TOKENS)
    if len(tokens) < cap:  # stopped on <|endoftext|>, which generate strips
        eos = torch.tensor([asr.model.generation_config.eos_token_id], device=tokens.device)
        tokens = torch.cat([tokens, eos])
    return asr.model._retrieve_compression_ratio(tokens, asr.model.config.vocab_size)

"""SpeechT5's decoder step on buffers of fixed shape, replayed as a CUDA graph.

Introduced in ``06_speed``. On a GPU one decoder step is ~200 small kernels, and
launching them from Python takes longer than running them: the loop is bound by
launches, not arithmetic. A CUDA graph records the step's kernels once and replays
them with one launch. A graph replays fixed shapes at fixed addresses, so here:

* the self-attention cache holds every position SpeechT5 allows, and the positions
  not made yet are masked (they add exactly zero to the softmax);
* the encoder's keys and values sit in buffers as long as the longest text, masked
  past the text;
* the step number lives in a tensor on the GPU, and the step advances it itself.

The prenet's dropout masks are drawn outside the graph, exactly as
:func:`s2st_helpers.fast.speecht5_steps.speech_blocks` draws them, so a seed gives the
same masks as ``generate_speech``. The graph is recorded once per model, on first use.
On a CPU the same step runs eagerly (the tests check it against the plain loop there).
"""

from __future__ import annotations

import threading
import warnings
import weakref

import torch
import torch.nn.functional as F

from .speecht5_steps import dropout_keep

_graphs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_failed: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # models whose recording failed
_graphs_lock = threading.Lock()


class StaticSpeechT5Step:
    """One SpeechT5 decoder step (prenet, decoder layers, spectrum and stop
    probability) whose inputs and outputs are tensors of fixed shape: ``start`` loads
    a sentence, ``step`` makes the next ``reduction_factor`` frames."""

    @torch.inference_mode()
    def __init__(self, model):
        config = model.config
        decoder = model.speecht5.decoder
        self.prenet, self.layers = decoder.prenet, list(decoder.wrapped_decoder.layers)
        self.postnet = model.speech_decoder_postnet
        attn = self.layers[0].self_attn
        self.heads, self.head_dim = attn.num_heads, attn.head_dim
        self.r, self.n_mels, self.p = config.reduction_factor, config.num_mel_bins, config.speech_decoder_prenet_dropout
        self.capacity, self.text_capacity = config.max_speech_positions, config.max_text_positions
        weight = self.postnet.feat_out.weight
        zeros = dict(device=weight.device, dtype=weight.dtype)
        n = len(self.layers)
        self.keys = torch.zeros(n, self.heads, self.capacity, self.head_dim, **zeros)
        self.values = torch.zeros_like(self.keys)
        self.cross_keys = torch.zeros(n, self.heads, self.text_capacity, self.head_dim, **zeros)
        self.cross_values = torch.zeros_like(self.cross_keys)
        self.cross_bias = torch.zeros(self.text_capacity, **zeros)
        self.slots = torch.arange(self.capacity, device=weight.device)
        self.position = torch.zeros(1, dtype=torch.long, device=weight.device)  # frames made so far
        self.last = torch.zeros(1, 1, self.n_mels, **zeros)
        self.speaker = torch.zeros(1, 1, config.speaker_embedding_dim, **zeros)
        self.masks = [torch.zeros(1, layer.out_features, dtype=torch.bool, device=weight.device)
                      for layer in self.prenet.layers]
        self.spectrum = torch.zeros(self.r, self.n_mels, **zeros)
        self.stop = torch.zeros((), **zeros)
        self.graph = None
        self.busy = threading.Lock()

    def fits(self, memory: torch.Tensor, steps: int) -> bool:
        return memory.size(1) <= self.text_capacity and steps <= self.capacity

    @torch.inference_mode()
    def start(self, memory: torch.Tensor, speaker: torch.Tensor) -> None:
        """Begin a sentence: ``memory`` is the encoder's output (1, T, dim), ``speaker``
        the normalised x-vector (1, 1, 512)."""
        length = memory.size(1)
        for i, layer in enumerate(self.layers):
            cross = layer.encoder_attn
            self.cross_keys[i, :, :length] = self._split(cross.k_proj(memory))
            self.cross_values[i, :, :length] = self._split(cross.v_proj(memory))
        self.cross_bias.fill_(-float("inf"))
        self.cross_bias[:length] = 0
        self.speaker.copy_(speaker)
        self.last.zero_()  # upstream starts from an all-zero frame
        self.position.zero_()

    @torch.inference_mode()
    def step(self, step: int) -> torch.Tensor:
        """The spectrum (r, n_mels) of decoder step ``step`` (1-based), a copy."""
        for mask, layer in zip(self.masks, self.prenet.layers):
            mask.copy_(dropout_keep(step, layer.out_features, self.p, self.last))  # as the eager loop draws
        if self.graph is not None:
            self.graph.replay()
        else:
            self._compute()
        return self.spectrum.clone()

    def stop_probability(self) -> torch.Tensor:
        """The stop probability of the last step, summed over its frames (0-d)."""
        return self.stop.clone()

    @torch.inference_mode()
    def record(self) -> None:
        """Record the step as a CUDA graph (after a warm-up on a side stream, as
        PyTorch's documentation asks); the next ``start`` resets what the warm-up
        changed."""
        stream = torch.cuda.Stream(self.keys.device)
        stream.wait_stream(torch.cuda.current_stream(self.keys.device))
        with torch.cuda.stream(stream):
            for _ in range(2):
                self._compute()
        torch.cuda.current_stream(self.keys.device).wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._compute()
        self.graph = graph

    def _split(self, x: torch.Tensor) -> torch.Tensor:  # (1, T, H*D) -> (H, T, D)
        return x.view(-1, self.heads, self.head_dim).transpose(0, 1)

    def _attend(self, attn, query_in, keys, values, bias) -> torch.Tensor:
        query = self._split(attn.q_proj(query_in) * attn.scaling)
        weights = (torch.bmm(query, keys.transpose(1, 2)) + bias).softmax(dim=-1)
        return attn.out_proj(torch.bmm(weights, values).transpose(0, 1).reshape(query_in.shape))

    def _compute(self) -> None:
        """The step itself: only fixed-shape operations on this object's buffers."""
        hidden = self.last
        for layer, mask in zip(self.prenet.layers, self.masks):
            hidden = torch.where(mask, F.relu(layer(hidden)), 0) * 1 / (1 - self.p)
        hidden = self.prenet.final_layer(hidden)
        positions = self.prenet.encode_positions
        hidden = positions.dropout(hidden + positions.alpha * positions.pe[0].index_select(0, self.position))
        hidden = F.relu(self.prenet.speaker_embeds_layer(torch.cat([hidden, self.speaker], dim=-1)))

        self_bias = torch.where(self.slots <= self.position, 0.0, -float("inf")).to(hidden.dtype)
        for i, layer in enumerate(self.layers):
            attn = layer.self_attn
            self.keys[i].index_copy_(1, self.position, self._split(attn.k_proj(hidden)))
            self.values[i].index_copy_(1, self.position, self._split(attn.v_proj(hidden)))
            out = self._attend(attn, hidden, self.keys[i], self.values[i], self_bias)
            hidden = layer.self_attn_layer_norm(hidden + out)
            out = self._attend(layer.encoder_attn, hidden, self.cross_keys[i], self.cross_values[i], self.cross_bias)
            hidden = layer.encoder_attn_layer_norm(hidden + out)
            ff = layer.feed_forward
            hidden = layer.final_layer_norm(
                hidden + ff.output_dense(ff.intermediate_act_fn(ff.intermediate_dense(hidden))))
        state = hidden.view(1, -1)
        spectrum = self.postnet.feat_out(state).view(self.r, self.n_mels)
        self.spectrum.copy_(spectrum)
        self.stop.copy_(torch.sigmoid(self.postnet.prob_out(state)).sum())
        self.last.copy_(spectrum[-1].view(1, 1, self.n_mels))
        self.position.add_(1)


def graphed_step(model) -> StaticSpeechT5Step | None:
    """This model's recorded step, made on first use; None while another thread is
    using it, or where recording failed (both callers then run the eager loop, and a
    failure is reported once). Release it with ``step.busy.release()``."""
    with _graphs_lock:
        if model in _failed:
            return None
        step = _graphs.get(model)
        if step is None:
            step = _graphs[model] = StaticSpeechT5Step(model)
    if not step.busy.acquire(blocking=False):
        return None
    if step.graph is None:
        try:
            step.record()
        except RuntimeError as err:  # a GPU or driver that cannot capture: the eager loop still runs
            warnings.warn(f"SpeechT5's CUDA graph could not be recorded ({err}); running the eager loop")
            with _graphs_lock:
                _failed[model] = True
                _graphs.pop(model, None)
            step.busy.release()
            return None
    return step

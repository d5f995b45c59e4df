"""Whisper's greedy decoding written out, one token at a time.

Introduced in ``06_speed``. ``generate`` spends more time per token in Python (logits
processors, cache bookkeeping, mask building) than whisper-base's decoder takes on a
laptop. This loop does the decoder's arithmetic in the library's order, applies the
same two suppressions ``generate`` applies to a translation without timestamps, and
keeps the first step's cache, so the step that gives the language and the no-speech
probability is also the start of the decoding. The tests check that the text is
``generate``'s, token for token.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class WhisperSteps:
    """Whisper's decoder over one encoded 30 s window, fed a token at a time."""

    def __init__(self, model, encoded: torch.Tensor):
        decoder = model.model.decoder
        self.model, self.decoder, self.layers = model, decoder, list(decoder.layers)
        attn = self.layers[0].self_attn
        self.heads, self.head_dim = attn.num_heads, attn.head_dim
        shape = (len(self.layers), 1, self.heads, model.config.max_target_positions, self.head_dim)
        self.keys, self.values = encoded.new_empty(shape), encoded.new_empty(shape)
        self.cross = [(self._split(layer.encoder_attn.k_proj(encoded)), self._split(layer.encoder_attn.v_proj(encoded)))
                      for layer in self.layers]
        self.tokens: list[int] = []

    def _split(self, x: torch.Tensor) -> torch.Tensor:  # (1, T, H*D) -> (1, H, T, D)
        return x.view(1, -1, self.heads, self.head_dim).transpose(1, 2)

    def _attend(self, attn, hidden, keys, values) -> torch.Tensor:
        query = self._split(attn.q_proj(hidden) * attn.scaling)  # scaled first, as upstream does
        out = F.scaled_dot_product_attention(query, keys, values, scale=1.0)
        return attn.out_proj(out.transpose(1, 2).reshape(hidden.shape))

    def step(self, token: int, logits: bool = True) -> torch.Tensor | None:
        """Feed one token; returns the next-token logits (float32, shape (vocab,)),
        unless ``logits=False`` (inside a prompt they are not needed, and the output
        projection over 51,865 tokens is a third of a step)."""
        n = len(self.tokens)
        ids = torch.tensor([[token]], device=self.keys.device)
        hidden = self.decoder.embed_tokens(ids) + self.decoder.embed_positions.weight[n:n + 1]
        for i, layer in enumerate(self.layers):
            attn, normed = layer.self_attn, layer.self_attn_layer_norm(hidden)
            self.keys[i, :, :, n] = attn.k_proj(normed).view(1, self.heads, self.head_dim)
            self.values[i, :, :, n] = attn.v_proj(normed).view(1, self.heads, self.head_dim)
            hidden = hidden + self._attend(attn, normed, self.keys[i, :, :, :n + 1], self.values[i, :, :, :n + 1])
            hidden = hidden + self._attend(layer.encoder_attn, layer.encoder_attn_layer_norm(hidden), *self.cross[i])
            hidden = hidden + layer.fc2(layer.activation_fn(layer.fc1(layer.final_layer_norm(hidden))))
        self.tokens.append(token)
        if not logits:
            return None
        return self.model.proj_out(self.decoder.layer_norm(hidden))[0, -1].float()

    def feed(self, prompt: list[int]) -> torch.Tensor:
        """Feed the part of ``prompt`` not fed yet; returns the last logits."""
        if self.tokens != prompt[:len(self.tokens)] or len(prompt) <= len(self.tokens):
            raise ValueError(f"prompt {prompt} does not continue the tokens fed so far {self.tokens}")
        new = prompt[len(self.tokens):]
        for token in new[:-1]:
            self.step(token, logits=False)
        return self.step(new[-1])

    def greedy(self, prompt: list[int], max_new_tokens: int) -> torch.Tensor:
        """Greedy decoding after ``prompt`` until <|endoftext|> or ``max_new_tokens``
        tokens (<|endoftext|> included); returns the new tokens without it, shape
        (1, n), as ``generate`` does for a short clip."""
        config = self.model.generation_config
        suppress = torch.tensor(config.suppress_tokens or [], dtype=torch.long)
        at_begin = torch.tensor(config.begin_suppress_tokens or [], dtype=torch.long)
        logits, out = self.feed(prompt), []
        while len(out) < max_new_tokens:
            scores = logits.clone()
            scores[suppress.to(scores.device)] = -float("inf")
            if not out:
                scores[at_begin.to(scores.device)] = -float("inf")
            token = int(scores.argmax())
            if token == config.eos_token_id:
                break
            out.append(token)
            if len(out) < max_new_tokens:
                logits = self.step(token)
        return torch.tensor([out], dtype=torch.long, device=self.keys.device)

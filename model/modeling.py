"""ChineseBERT: fusion of character, pinyin and glyph embeddings → BERT encoder → tied MLM head.

Parameter names and shapes follow the released checkpoint (`bert.embeddings.pinyin_embeddings.conv.weight`,
`cls.predictions.transform.dense.weight`, …), so its weights load here and ours load there.
The model reads no files: the glyph table is filled from an array with `load_glyphs` after construction.
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from model.config import ChineseBertConfig
from model.masking import IGNORE


class PinyinEmbedding(nn.Module):
    """Pinyin letters of each token → one vector: Embedding → Conv1d over the slots → max-pool."""

    def __init__(self, c: ChineseBertConfig):
        super().__init__()
        self.embedding = nn.Embedding(c.pinyin_alphabet, c.pinyin_embedding)
        self.conv = nn.Conv1d(c.pinyin_embedding, c.hidden_size, kernel_size=c.pinyin_conv_width)

    def forward(self, pinyin_ids: torch.Tensor) -> torch.Tensor:
        b, t, slots = pinyin_ids.shape  # [B, T, 8]
        x = self.embedding(pinyin_ids.view(b * t, slots))  # [B·T, 8, 128]
        x = self.conv(x.transpose(1, 2))  # [B·T, H, 8 - width + 1]
        return x.max(dim=-1).values.view(b, t, -1)  # [B, T, H]


class GlyphEmbedding(nn.Module):
    """The pixels of each vocabulary entry in every font, flattened: a (trainable) table of V × fonts·size²."""

    def __init__(self, c: ChineseBertConfig):
        super().__init__()
        self.embedding = nn.Embedding(c.vocab_size, c.glyph_dim)
        self.embedding.weight.requires_grad = c.train_glyphs

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.embedding(input_ids)  # [B, T, fonts·size²]


def per_token(embed, ids: torch.Tensor, row: int = 0) -> torch.Tensor:
    """embed(ids) run on every token: the CUDA path, and the reference per_distinct is measured against."""
    return embed(ids)


def per_distinct(embed, ids: torch.Tensor, row: int = 0) -> torch.Tensor:
    """embed(ids) run once per distinct id (row=0) or per distinct trailing row of `row` dims: the same values.

    Characters repeat (~900–1,300 distinct in a batch of 4,096 tokens), so the glyph and pinyin maps, most of a small
    model's embedding cost, do a third of the work: a `tiny` CPU step costs ~20% less (BENCHMARKS.md, "Pretraining").
    CPU only: on CUDA, unique()'s data-dependent size would cost a host sync per step.
    """
    if ids.device.type != "cpu":
        return per_token(embed, ids, row)
    keys = ids.reshape(-1, *ids.shape[ids.dim() - row:])  # [N] ids, or [N, …] rows
    distinct, inverse = torch.unique(keys, dim=0 if row else None, return_inverse=True)
    return embed(distinct.unsqueeze(0))[0][inverse].view(*ids.shape[:ids.dim() - row], -1)


class FusionEmbeddings(nn.Module):
    """concat(word, pinyin, glyph) → map_fc → + position + token type → LayerNorm → dropout."""

    def __init__(self, c: ChineseBertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size, padding_idx=c.pad_token_id)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        if c.use_pinyin:
            self.pinyin_embeddings = PinyinEmbedding(c)
        if c.use_glyph:
            self.glyph_embeddings = GlyphEmbedding(c)
            self.glyph_map = nn.Linear(c.glyph_dim, c.hidden_size)
        if c.fused_parts > 1:
            self.map_fc = nn.Linear(c.fused_parts * c.hidden_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)
        self.register_buffer("position_ids", torch.arange(c.max_position_embeddings).unsqueeze(0), persistent=False)

    def forward(self, input_ids, pinyin_ids, token_type_ids=None):
        t = input_ids.shape[1]
        parts = [self.word_embeddings(input_ids)]  # [B, T, H]; the checkpoint's order: word, pinyin, glyph
        if hasattr(self, "pinyin_embeddings"):
            parts.append(per_distinct(self.pinyin_embeddings, pinyin_ids, row=1))  # [B, T, H]
        if hasattr(self, "glyph_embeddings"):
            parts.append(per_distinct(self.glyph_vectors, input_ids))  # [B, T, H]
        x = self.map_fc(torch.cat(parts, dim=-1)) if len(parts) > 1 else parts[0]
        x = x + self.position_embeddings(self.position_ids[:, :t])
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        x = x + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(x))

    def glyph_vectors(self, input_ids: torch.Tensor) -> torch.Tensor:
        """The glyph part: pixels [..., fonts·size²] → glyph_map → [..., H]."""
        return self.glyph_map(self.glyph_embeddings(input_ids))


# CPU bf16 attention: PyTorch's fused CPU kernel is ~2x slower than the plain matmul-softmax path up to 128 tokens,
# even at 256 and faster at 512 (benchmarks/cpu_precision.py, BENCHMARKS.md "Pretraining").
CPU_BF16_MATH_MAX_LEN = 128


class SelfAttention(nn.Module):
    def __init__(self, c: ChineseBertConfig):
        super().__init__()
        self.heads = c.num_attention_heads
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)
        self.dropout_p = c.attention_probs_dropout_prob

    def split_heads(self, proj: nn.Linear, x: torch.Tensor) -> torch.Tensor:
        b, t, h = x.shape
        return proj(x).view(b, t, self.heads, h // self.heads).transpose(1, 2)  # [B, heads, T, H/heads]

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """Attention weights [B, heads, T, T] without a padding mask (for inspection: forward never builds them)."""
        q, k = self.split_heads(self.query, x), self.split_heads(self.key, x)
        return F.softmax(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5, dim=-1)

    def forward(self, x, attn_mask):
        b, t, h = x.shape
        q, k, v = (self.split_heads(proj, x) for proj in (self.query, self.key, self.value))
        plain = q.device.type == "cpu" and q.dtype == torch.bfloat16 and t <= CPU_BF16_MATH_MAX_LEN
        with sdpa_kernel(SDPBackend.MATH) if plain else contextlib.nullcontext():
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask,
                                               dropout_p=self.dropout_p if self.training else 0.0)
        return y.transpose(1, 2).reshape(b, t, h)


class DenseLayerNorm(nn.Module):
    """dense → dropout → + residual → LayerNorm (BERT's post-LN 'output' blocks)."""

    def __init__(self, c: ChineseBertConfig, d_in: int):
        super().__init__()
        self.dense = nn.Linear(d_in, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def forward(self, x, residual):
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class Attention(nn.Module):
    def __init__(self, c: ChineseBertConfig):
        super().__init__()
        self.self = SelfAttention(c)
        self.output = DenseLayerNorm(c, c.hidden_size)

    def forward(self, x, attn_mask):
        return self.output(self.self(x, attn_mask), x)


class Intermediate(nn.Module):
    def __init__(self, c: ChineseBertConfig):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.intermediate_size)

    def forward(self, x):
        return F.gelu(self.dense(x))


class Layer(nn.Module):
    def __init__(self, c: ChineseBertConfig):
        super().__init__()
        self.attention = Attention(c)
        self.intermediate = Intermediate(c)
        self.output = DenseLayerNorm(c, c.intermediate_size)

    def forward(self, x, attn_mask):
        x = self.attention(x, attn_mask)
        return self.output(self.intermediate(x), x)


class Encoder(nn.Module):
    def __init__(self, c: ChineseBertConfig):
        super().__init__()
        self.layer = nn.ModuleList(Layer(c) for _ in range(c.num_hidden_layers))
        self.checkpoint_activations = False  # a training choice (memory for ~1/3 more compute), not a model size

    def forward(self, x, attn_mask):
        for layer in self.layer:
            if self.checkpoint_activations and self.training:
                x = torch.utils.checkpoint.checkpoint(layer, x, attn_mask, use_reentrant=False)
            else:
                x = layer(x, attn_mask)
        return x


class Pooler(nn.Module):
    def __init__(self, c: ChineseBertConfig):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)

    def forward(self, x):
        return torch.tanh(self.dense(x[:, 0]))


class ChineseBertModel(nn.Module):
    """Embeddings + encoder + pooler (the `bert.` part of the checkpoint)."""

    def __init__(self, c: ChineseBertConfig):
        super().__init__()
        self.config = c
        self.embeddings = FusionEmbeddings(c)
        self.encoder = Encoder(c)
        self.pooler = Pooler(c)

    def forward(self, input_ids, pinyin_ids, attention_mask=None, token_type_ids=None, pool: bool = True):
        """(hidden states [B, T, H], pooled [B, H] or None when pool is False)."""
        x = self.embeddings(input_ids, pinyin_ids, token_type_ids)
        attn_mask = None
        if attention_mask is not None:  # [B, T] 1 = token, 0 = padding → boolean [B, 1, 1, T]: True = attend
            attn_mask = attention_mask.bool()[:, None, None, :]
        x = self.encoder(x, attn_mask)
        return x, (self.pooler(x) if pool else None)


class PredictionHeadTransform(nn.Module):
    def __init__(self, c: ChineseBertConfig):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, x):
        return self.LayerNorm(F.gelu(self.dense(x)))


class LMPredictionHead(nn.Module):
    def __init__(self, c: ChineseBertConfig, word_embeddings: nn.Embedding):
        super().__init__()
        self.transform = PredictionHeadTransform(c)
        self.bias = nn.Parameter(torch.zeros(c.vocab_size))
        self.decoder = nn.Linear(c.hidden_size, c.vocab_size)
        self.decoder.weight = word_embeddings.weight  # tied
        self.decoder.bias = self.bias  # tied, as in HF BERT (both names appear in checkpoints)

    def forward(self, x):
        return self.decoder(self.transform(x))


class MLMHead(nn.Module):
    def __init__(self, c: ChineseBertConfig, word_embeddings: nn.Embedding):
        super().__init__()
        self.predictions = LMPredictionHead(c, word_embeddings)

    def forward(self, x):
        return self.predictions(x)


class ChineseBertForMaskedLM(nn.Module):
    """ChineseBERT with the masked-language-model head (no NSP head, as in the paper's pretraining)."""

    def __init__(self, config: ChineseBertConfig):
        super().__init__()
        self.config = config
        self.bert = ChineseBertModel(config)
        self.cls = MLMHead(config, self.bert.embeddings.word_embeddings)
        self.apply(self._init_weights)
        self._init_fusion()

    @classmethod
    def fresh(cls, config: ChineseBertConfig, glyphs) -> "ChineseBertForMaskedLM":
        """A new model with the corpus's glyph table (glyphs.npy) and glyph_map initialised from it."""
        model = cls(config)
        model.load_glyphs(glyphs)
        model.init_glyph_map()
        return model

    @torch.no_grad()
    def _init_fusion(self) -> None:
        """map_fc starts by passing the word embedding through (identity block; pinyin and glyph columns as BERT's).

        With N(0, 0.02) everywhere the character's identity reaches the encoder at a third of the position signal.
        On its own this did not change the loss over the first 400 steps (BENCHMARKS.md, "Fine-tuning ablation");
        the learning rate of glyph_map did (`--glyph-lr-scale`).
        """
        if self.config.fused_parts > 1:
            fc = self.bert.embeddings.map_fc
            fc.weight[:, :self.config.hidden_size].copy_(torch.eye(self.config.hidden_size))

    def _init_weights(self, module):
        std = self.config.initializer_range
        if isinstance(module, (nn.Linear, nn.Conv1d)):
            if module.weight is not self.bert.embeddings.word_embeddings.weight:  # the tied decoder keeps [PAD] = 0
                nn.init.normal_(module.weight, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=std)
            if module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    @torch.no_grad()
    def init_glyph_map(self) -> None:
        """Initialise glyph_map from the glyph table now in the model (a fresh model only): centred and scaled.

        With BERT's N(0, 0.02) the raw pixels (hundreds lit per glyph) come out 13× larger than the word embeddings,
        half of it one vector shared by every token; centred over the vocabulary and scaled to a word embedding's
        norm, the three parts start on an equal footing (the checkpoint format is unchanged).
        """
        if not self.config.use_glyph:
            return
        table = self.bert.embeddings.glyph_embeddings.embedding.weight  # [V, fonts·size²]
        fc = self.bert.embeddings.glyph_map
        centred = table - table.mean(0)
        spread = (centred @ fc.weight.T).norm(dim=-1).mean()  # [V, H] → mean norm of a token's glyph vector
        target = self.config.initializer_range * self.config.hidden_size ** 0.5  # a word embedding's norm
        fc.weight.mul_(target / spread.clamp(min=1e-12))
        fc.bias.copy_(-(fc.weight @ table.mean(0)))

    @torch.no_grad()
    def load_glyphs(self, glyphs) -> None:
        """Fill the glyph table from glyphs.npy (uint8 [V, fonts, size, size]), pixels scaled to [0, 1].

        Called after construction, so weight initialisation can never overwrite the pixels (the reference's bug).
        """
        if not self.config.use_glyph:
            return
        table = torch.as_tensor(glyphs).reshape(glyphs.shape[0], -1).float() / 255.0
        weight = self.bert.embeddings.glyph_embeddings.embedding.weight
        if tuple(table.shape) != tuple(weight.shape):
            raise ValueError(f"glyphs {tuple(table.shape)} do not fit the model's table {tuple(weight.shape)}")
        weight.copy_(table)

    def forward(self, input_ids, pinyin_ids, attention_mask=None, token_type_ids=None, labels=None,
                masked_positions=None):
        """Logits [B, T, V]; with labels (-100 = ignore) also the mean MLM loss: (loss, logits).

        With masked_positions [B, P] (labels then [B, P]) only those positions go through the head, a fixed shape
        and no host sync: the vocabulary projection is the costliest matmul. Without them, labels are [B, T] and
        the head runs on every position. A batch with no label gives loss 0, not NaN."""
        hidden, _ = self.bert(input_ids, pinyin_ids, attention_mask, token_type_ids, pool=False)
        if labels is None:
            return self.cls(hidden)
        if masked_positions is not None:  # [B, P, H]
            hidden = hidden.gather(1, masked_positions.unsqueeze(-1).expand(-1, -1, hidden.size(-1)))
        logits = self.cls(hidden)
        total = F.cross_entropy(logits.float().flatten(0, -2), labels.flatten(), ignore_index=IGNORE, reduction="sum")
        return total / (labels != IGNORE).sum().clamp(min=1), logits

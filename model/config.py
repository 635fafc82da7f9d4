"""ChineseBERT's configuration: every size lives here and nowhere else."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass


@dataclass
class ChineseBertConfig:
    vocab_size: int
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    initializer_range: float = 0.02
    pad_token_id: int = 0
    glyph_fonts: int = 3  # glyph bitmaps per token…
    glyph_size: int = 24  # …each glyph_size × glyph_size pixels
    train_glyphs: bool = True  # whether the pixel table is trained (the reference trains it)
    pinyin_alphabet: int = 32  # 0 empty, 1–5 tone digits, 6–31 letters
    pinyin_embedding: int = 128
    pinyin_slots: int = 8
    pinyin_conv_width: int = 2
    use_pinyin: bool = True  # the ablations: without pinyin and/or glyph embeddings (both off: BERT's embeddings)
    use_glyph: bool = True

    @property
    def fused_parts(self) -> int:
        return 1 + self.use_pinyin + self.use_glyph

    @property
    def glyph_dim(self) -> int:
        return self.glyph_fonts * self.glyph_size * self.glyph_size

    @classmethod
    def tiny(cls, vocab_size: int, **overrides) -> "ChineseBertConfig":
        """A CPU smoke-test size: 4 layers of 128."""
        return cls(vocab_size, **{"hidden_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4,
                                  "intermediate_size": 512, "max_position_embeddings": 512, **overrides})

    @classmethod
    def small(cls, vocab_size: int, **overrides) -> "ChineseBertConfig":
        """The CPU ablation's wider size: 4 layers of 256."""
        return cls.tiny(vocab_size, **{"hidden_size": 256, "num_attention_heads": 4, "intermediate_size": 1024,
                                       **overrides})

    @classmethod
    def base(cls, vocab_size: int, **overrides) -> "ChineseBertConfig":
        """The released ChineseBERT-base (BERT-base encoder)."""
        return cls(vocab_size, **overrides)

    @classmethod
    def large(cls, vocab_size: int, **overrides) -> "ChineseBertConfig":
        """ChineseBERT-large (BERT-large encoder)."""
        return cls(vocab_size, **{"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
                                  "intermediate_size": 4096, **overrides})

    @classmethod
    def preset(cls, name: str, vocab_size: int, **overrides) -> "ChineseBertConfig":
        if name not in ("tiny", "small", "base", "large"):
            raise ValueError(f"unknown model size {name!r}")
        return getattr(cls, name)(vocab_size, **overrides)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "ChineseBertConfig":
        data = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

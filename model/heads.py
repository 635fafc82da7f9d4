"""Fine-tuning heads with the reference's names, loadable from any model folder this project writes or converts.

    model, report = ChineseBertForSequenceClassification.from_pretrained("out/model", num_labels=2)
    print(report)   # what was loaded, what is new (the head), what was not used (the MLM head)
"""
from __future__ import annotations

import json
import os

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from model.config import ChineseBertConfig
from model.masking import IGNORE
from model.modeling import ChineseBertModel


class _WithEncoder(nn.Module):
    """The shared part: config, `bert` encoder, dropout; loading and saving of model folders."""

    def __init__(self, config: ChineseBertConfig, num_labels: int):
        super().__init__()
        self.config, self.num_labels = config, num_labels
        self.bert = ChineseBertModel(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, num_labels)
        nn.init.normal_(self.classifier.weight, std=config.initializer_range)
        nn.init.zeros_(self.classifier.bias)

    @classmethod
    def from_pretrained(cls, folder: str, num_labels: int | None = None) -> tuple["_WithEncoder", str]:
        """The model folder's encoder (and this head, if the folder holds one), and a report of what was loaded."""
        with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
            raw = json.load(f)
        config = ChineseBertConfig.from_json(json.dumps(raw))
        num_labels = num_labels or raw.get("num_labels")
        if not num_labels:
            raise ValueError(f"{folder} holds no classification head: give num_labels")
        model = cls(config, num_labels)
        state = load_file(os.path.join(folder, "model.safetensors"))
        state = {k: v for k, v in state.items() if not k.endswith("position_ids")}
        own = model.state_dict()
        usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
        model.load_state_dict(usable, strict=False)
        new = sorted(k for k in own if k not in usable)
        unused = sorted(k for k in state if k not in usable)
        missing_encoder = [k for k in new if k.startswith("bert.") and not k.startswith("bert.pooler")]
        if missing_encoder:
            raise KeyError(f"{folder} lacks encoder weights: {missing_encoder[:5]}")
        report = (f"loaded {len(usable)} tensors from {folder}; initialised new: {', '.join(new) or 'none'}; "
                  f"not used: {_summarise(unused)}")
        return model, report

    def save_pretrained(self, folder: str, extra_config: dict | None = None) -> None:
        """model.safetensors and config.json (with num_labels and anything in extra_config, e.g. the labels)."""
        os.makedirs(folder, exist_ok=True)
        save_file({k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()},
                  os.path.join(folder, "model.safetensors"))
        config = {**json.loads(self.config.to_json()), "num_labels": self.num_labels, **(extra_config or {})}
        with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2, ensure_ascii=False, sort_keys=True)


def _summarise(keys: list[str]) -> str:
    """Key names grouped by their first two components (the MLM head is dozens of tensors)."""
    groups: dict[str, int] = {}
    for k in keys:
        prefix = ".".join(k.split(".")[:2])
        groups[prefix] = groups.get(prefix, 0) + 1
    return ", ".join(f"{p} ({n})" for p, n in sorted(groups.items())) or "none"


class ChineseBertForSequenceClassification(_WithEncoder):
    """[CLS] → pooler → dropout → Linear: one label per text or text pair."""

    def forward(self, input_ids, pinyin_ids, attention_mask=None, token_type_ids=None, labels=None):
        """Logits [B, num_labels]; with labels [B] also the mean cross-entropy: (loss, logits)."""
        _, pooled = self.bert(input_ids, pinyin_ids, attention_mask, token_type_ids, pool=True)
        logits = self.classifier(self.dropout(pooled))
        if labels is None:
            return logits
        return F.cross_entropy(logits.float(), labels), logits


class ChineseBertForTokenClassification(_WithEncoder):
    """Every token → dropout → Linear: BIO tags for NER, POS, or segmentation as tagging."""

    def forward(self, input_ids, pinyin_ids, attention_mask=None, token_type_ids=None, labels=None):
        """Logits [B, T, num_labels]; with labels [B, T] (-100 = ignore) also the mean loss: (loss, logits)."""
        hidden, _ = self.bert(input_ids, pinyin_ids, attention_mask, token_type_ids, pool=False)
        logits = self.classifier(self.dropout(hidden))
        if labels is None:
            return logits
        total = F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=IGNORE, reduction="sum")
        return total / (labels != IGNORE).sum().clamp(min=1), logits

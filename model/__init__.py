"""ChineseBERT model and pretraining: `from model import ChineseBertConfig, ChineseBertForMaskedLM`."""
from model.config import ChineseBertConfig
from model.modeling import ChineseBertForMaskedLM, ChineseBertModel

__all__ = ["ChineseBertConfig", "ChineseBertForMaskedLM", "ChineseBertModel"]

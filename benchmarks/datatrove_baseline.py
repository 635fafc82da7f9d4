"""The equivalent datatrove pipeline, for side-by-side measurement (runs in .venv-bench, see benchmarks/README.md).

WarcReader → Trafilatura → LanguageFilter(zh) → GopherRepetition → FineWebQuality → GopherQuality → JsonlWriter,
with FineWeb-2's published Mandarin (cmn_Hani) thresholds. FineWeb-2 identified language with GlotLID, which cannot
be downloaded here; lid.176 (the same model file our job uses) stands in, with FineWeb-2's cmn threshold.

`python benchmarks/datatrove_baseline.py INPUT_DIR GLOB OUTPUT_DIR LID_MODEL`
"""
import sys

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.extractors import Trafilatura
from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter, LanguageFilter
from datatrove.pipeline.filters.fineweb_quality_filter import FineWebQualityFilter
from datatrove.pipeline.readers import WarcReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.lid import FT176LID

# FineWeb-2 configs/cmn_Hani.yml (published thresholds; values only).
CMN = {
    "dup_line_frac": 0.287,
    "dup_n_grams": ((5, 0.198), (6, 0.182), (7, 0.167), (8, 0.154), (9, 0.14), (10, 0.127)),
    "top_n_grams": ((2, 0.256), (3, 0.201), (4, 0.171)),
    "language_score": 0.692,
    "line_punct_thr": 0.106,
    "new_line_ratio": 0.178,
    "min_avg_word_length": 1,
    "max_avg_word_length": 5,
    "max_non_alpha_words_ratio": 0.735,
    "stopwords": ["的", "年", "在", "月", "是", "和", "日", "了", "於", "·", "為", "有", "被", "人", "中", "为", "他", "與", "後",
                  "也", "而", "由"],
}


class LocalFT176(FT176LID):
    """datatrove's lid.176 wrapper, loading the local model file instead of downloading it."""

    def __init__(self, languages, path):
        super().__init__(languages)
        self.path = path

    @property
    def model(self):
        if self._model is None:
            from fasttext.FastText import _FastText

            self._model = _FastText(self.path)
        return self._model


def main(input_dir: str, glob_pattern: str, output_dir: str, lid_model: str) -> None:
    language = LanguageFilter(languages=["zh"], language_threshold=CMN["language_score"])
    language.model = LocalFT176(["zh"], lid_model)
    pipeline = [
        WarcReader(input_dir, glob_pattern=glob_pattern),
        Trafilatura(favour_precision=True, timeout=1.0),
        language,
        GopherRepetitionFilter(dup_line_frac=CMN["dup_line_frac"], top_n_grams=CMN["top_n_grams"],
                               dup_n_grams=CMN["dup_n_grams"], language="cmn_Hani"),
        FineWebQualityFilter(line_punct_thr=CMN["line_punct_thr"], new_line_ratio=CMN["new_line_ratio"], language="cmn_Hani"),
        GopherQualityFilter(min_avg_word_length=CMN["min_avg_word_length"],
                            max_avg_word_length=CMN["max_avg_word_length"],
                            max_non_alpha_words_ratio=CMN["max_non_alpha_words_ratio"],
                            stop_words=CMN["stopwords"], language="cmn_Hani"),
        JsonlWriter(output_dir, compression=None),
    ]
    LocalPipelineExecutor(pipeline=pipeline, tasks=1, workers=1, logging_dir=output_dir + "/logs").run()


if __name__ == "__main__":
    main(*sys.argv[1:5])

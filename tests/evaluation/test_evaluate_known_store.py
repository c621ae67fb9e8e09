"""The evaluation of a stored collection on a store written by hand, whose mAP and precision@k
are known for every (variant, domain pair): which matrix is the image one and which the caption
one, and that embedding rows line up with the labels (a failed and an unlabelled item sit between
the labelled ones), all show in the numbers.

Vectors (e_i the unit basis of R^8; the cat/dog sketches are not orthogonal to the photos):

| row | domain | class | status | image v        | caption t | caption text            |
|-----|--------|-------|--------|----------------|-----------|-------------------------|
| 0   | photo  | cat   | ok     | e0             | e2        | a photo of a cat        |
| 1   | sketch | dog   | failed | 0              | 0         | -                       |
| 2   | photo  | dog   | ok     | e1             | e3        | a photo of a dog        |
| 3   | -      | -     | ok     | e7             | e7        | a sketch of a bird      |
| 4   | sketch | dog   | ok     | (1,2,0,1)/√6   | e0        | a sketch of a dog       |
| 5   | sketch | cat   | ok     | (.25,0,1,0)/‖‖ | e0        | a sketch of a cat       |

Neutralised texts embed as "a cat" = e0, "a dog" = e1, "a bird" = e7. Each query has one
relevant gallery image, so AP is 1 (right class first) or 1/2, and precision@2 is always 100.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cdir.evaluation.evaluate_store import eval_data, evaluate_collection, labelled_rows
from cdir.evaluation.protocol import EvalConfig
from cdir.models.loaded import Models
from cdir.models.style_words import Neutraliser
from cdir.models.text_embeddings import embed_key
from cdir.store.cache import Cache, text_key
from cdir.store.collection import Store

D = 8
E = np.eye(D, dtype=np.float32)
Z = np.zeros(D, dtype=np.float32)


def _unit(*values: float) -> np.ndarray:
    v = np.zeros(D, dtype=np.float32)
    v[: len(values)] = values
    return v / np.linalg.norm(v)


ROWS = [  # (domain, class, status, image v, caption t, caption)
    ("photo", "cat", "ok", E[0], E[2], "a photo of a cat"),
    ("sketch", "dog", "failed", Z, Z, None),
    ("photo", "dog", "ok", E[1], E[3], "a photo of a dog"),
    (None, None, "ok", E[7], E[7], "a sketch of a bird"),
    ("sketch", "dog", "ok", _unit(1, 2, 0, 1), E[0], "a sketch of a dog"),
    ("sketch", "cat", "ok", _unit(0.25, 0, 1), E[0], "a sketch of a cat"),
]
NEUTRAL_TEXTS = {"a cat": E[0], "a dog": E[1], "a bird": E[7]}

# (variant, query domain, gallery domain) -> (mAP, precision@1), in %
EXPECTED = {
    ("image", "photo", "sketch"): (75.0, 50.0),  # the photo cat's image is nearer the dog sketch
    ("image", "sketch", "photo"): (100.0, 100.0),
    ("caption", "photo", "sketch"): (100.0, 100.0),  # t(photo cat) = e2 points at the cat sketch
    ("caption", "sketch", "photo"): (75.0, 50.0),  # both sketch captions point at the photo cat
    ("caption+neutral", "photo", "sketch"): (75.0, 50.0),  # "a cat" = e0, as the image e0
    ("caption+neutral", "sketch", "photo"): (100.0, 100.0),  # "a dog" = e1 = v(photo dog)
}


@pytest.fixture
def store(tmp_path: Path, tiny: Models) -> Store:
    root = tmp_path / "known"
    store = Store.create(root, "tiny", tiny.caption_key, D)
    n = len(ROWS)
    store.items = pd.DataFrame(
        {
            "id": range(n),
            "path": [str(tmp_path / f"img{i}.png") for i in range(n)],
            "rel_path": [f"img{i}.png" for i in range(n)],
            "sha256": [f"sha{i}" for i in range(n)],
            "width": 64,
            "height": 64,
            "domain": [r[0] for r in ROWS],
            "class": [r[1] for r in ROWS],
            "label_source": ["folder" if r[0] else "none" for r in ROWS],
            "status": [r[2] for r in ROWS],
            "caption": [r[5] for r in ROWS],
            "parent_id": -1,
        }
    )
    store.image_emb = np.stack([r[3] for r in ROWS])
    store.caption_emb = np.stack([r[4] for r in ROWS])
    store.write()
    cache = Cache.for_store(root, shared=False)
    cache.put_vectors(
        "text_emb",
        embed_key(tiny),
        [text_key(t) for t in NEUTRAL_TEXTS],
        np.stack(list(NEUTRAL_TEXTS.values())),
    )
    cache.close()
    return Store.load(root)


def test_the_labelled_rows_skip_the_failed_and_the_unlabelled_item(store: Store) -> None:
    assert labelled_rows(store).tolist() == [0, 2, 4, 5]


def test_the_arrays_line_up_with_the_labels(store: Store, tiny: Models) -> None:
    rows = labelled_rows(store)
    data = eval_data(store, tiny, EvalConfig(), Neutraliser(), rows)
    assert data.domains.tolist() == ["photo", "photo", "sketch", "sketch"]
    assert data.classes.tolist() == ["cat", "dog", "dog", "cat"]
    np.testing.assert_array_equal(data.image, store.image_emb[[0, 2, 4, 5]])
    np.testing.assert_array_equal(data.caption, store.caption_emb[[0, 2, 4, 5]])
    np.testing.assert_array_equal(data.caption_neutral, E[[0, 1, 1, 0]])


def test_every_pair_has_its_known_map_and_precision(store: Store, tiny: Models) -> None:
    config = EvalConfig(modes=("image", "caption"), ks=(1, 2))
    report = evaluate_collection(store, tiny, config)
    assert set(report.variants) == {"image", "caption", "caption+neutral"}
    assert report.domain_sizes == {"photo": 2, "sketch": 2}
    got = {
        (p.variant, p.query_domain, p.gallery_domain): (
            round(p.map, 9),
            round(p.precision[1], 9),
            round(p.precision[2], 9),
            p.n_queries,
        )
        for p in report.pairs
    }
    assert got == {key: (m, p1, 100.0, 2) for key, (m, p1) in EXPECTED.items()}

"""Cross-modal retrieval MRR: hand-worked ranks in both directions, ties, chance level."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bench.protocols.cross_modal import chance_mrr, first_relevant_ranks, mrr_both_ways


def test_mrr_on_a_hand_made_similarity_matrix_both_directions_with_ties() -> None:
    """Rows: audio queries; columns: images. Labels [0, 0, 1, 2]; ties count against the query.

    Audio→image (rows):
      a0 [.9 .2 .5 .1]  relevant {0,1}: best .9, no irrelevant >= .9            -> rank 1
      a1 [.3 .4 .8 .4]  relevant {0,1}: best .4; .8 (col 2) and .4 (col 3, tie) -> rank 3
      a2 [.7 .6 .6 .1]  relevant {2}:   best .6; .7 (col 0) and .6 (col 1, tie) -> rank 3
      a3 [.0 .1 .2 .5]  relevant {3}:   best .5                                  -> rank 1
      MRR = (1 + 1/3 + 1/3 + 1) / 4 = 2/3
    Image→audio (columns):
      i0 [.9 .3 .7 .0]  relevant {0,1}: best .9                   -> rank 1
      i1 [.2 .4 .6 .1]  relevant {0,1}: best .4; .6 (row 2)        -> rank 2
      i2 [.5 .8 .6 .2]  relevant {2}:   best .6; .8 (row 1)        -> rank 2
      i3 [.1 .4 .1 .5]  relevant {3}:   best .5                    -> rank 1
      MRR = (1 + 1/2 + 1/2 + 1) / 4 = 3/4
    """
    sim = np.array([[0.9, 0.2, 0.5, 0.1], [0.3, 0.4, 0.8, 0.4], [0.7, 0.6, 0.6, 0.1], [0.0, 0.1, 0.2, 0.5]])
    labels = np.array([0, 0, 1, 2])
    rel = labels[:, None] == labels[None, :]
    a2i = first_relevant_ranks(sim, rel)
    i2a = first_relevant_ranks(sim.T, rel.T)
    assert a2i.tolist() == [1, 3, 3, 1]
    assert i2a.tolist() == [1, 2, 2, 1]
    assert np.mean(1 / a2i) == pytest.approx(2 / 3)
    assert np.mean(1 / i2a) == pytest.approx(3 / 4)


def test_mrr_from_embeddings_by_hand() -> None:
    """Audio e0, e0, e1; images e0, e1, e1; labels 0, 0, 1 (cosine = 1 for equal axes, else 0).

    a→i: a0, a1 find i0 (label 0) first -> 1, 1; a2 (label 1): i1 (label 0) ties with i2 at 1 -> rank 2.
    i→a: i0 -> a0 -> 1; i1 (label 0): a2 (label 1) scores 1, a0/a1 score 0 -> rank 2; i2 -> a2 -> 1.
    Both MRRs = (1 + 1 + 1/2) / 3 = 5/6.
    """
    e = np.eye(2)
    audio, image = e[[0, 0, 1]], e[[0, 1, 1]]
    a2i, i2a, r_a2i, r_i2a = mrr_both_ways(audio * 3.0, image * 0.5, np.array([0, 0, 1]), chunk=2)
    assert r_a2i.tolist() == [1, 1, 2] and r_i2a.tolist() == [1, 2, 1]
    assert a2i == pytest.approx(5 / 6) and i2a == pytest.approx(5 / 6)


def test_a_constant_encoder_gets_the_worst_rank_not_the_best() -> None:
    labels = np.array([0, 0, 1, 1, 1, 2])
    const = np.ones((6, 4))
    a2i, i2a, ranks, _ = mrr_both_ways(const, const, labels)
    # every irrelevant item ties with the best relevant one and is ranked ahead of it
    assert ranks.tolist() == [5, 5, 4, 4, 4, 6]
    assert a2i == pytest.approx(np.mean([1 / 5, 1 / 5, 1 / 4, 1 / 4, 1 / 4, 1 / 6])) and i2a == a2i


def test_chance_mrr_equals_exhaustive_enumeration() -> None:
    labels = np.array([0, 0, 1, 1, 1, 2])
    n = len(labels)
    total = 0.0
    perms = list(itertools.permutations(range(n)))
    for q in range(n):
        for perm in perms:
            rank = next(k for k, item in enumerate(perm, 1) if labels[item] == labels[q])
            total += 1 / rank
    assert chance_mrr(labels) == pytest.approx(total / (n * len(perms)))

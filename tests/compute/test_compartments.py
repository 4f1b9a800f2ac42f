"""Compartment codes: mapping by name, unknown labels, the astrocyte rule."""

from __future__ import annotations

import numpy as np
import pytest

from builder.compute.compartments import (
    LabelError,
    astrocyte_compartments,
    astrocyte_node_labels,
    code_names,
    map_node_labels,
)
from builder.schema import COMPARTMENT_NAMES, PUBLISHED_LABEL_NAMES, label_mapping


def test_published_codes_4_and_5_are_swapped_by_name():
    assert label_mapping(PUBLISHED_LABEL_NAMES) == {0: 0, 1: 1, 2: 2, 3: 3, 4: 5, 5: 4}
    ours = map_node_labels(np.array([0, 1, 2, 3, 4, 5]), PUBLISHED_LABEL_NAMES)
    assert [COMPARTMENT_NAMES[c] for c in ours] == [PUBLISHED_LABEL_NAMES[c] for c in range(6)]


def test_unknown_label_values_are_named():
    with pytest.raises(LabelError, match=r"\[7, 9\]"):
        map_node_labels(np.array([0, 7, 2, 9]), PUBLISHED_LABEL_NAMES)
    with pytest.raises(LabelError, match="not integers"):
        map_node_labels(np.array([0.0, 1.5]), PUBLISHED_LABEL_NAMES)


def test_code_names():
    assert code_names(np.array([4, 5, 0])).tolist() == ["Unknown dendritic", "Unknown", "Somatic"]


def test_astrocyte_rule_thresholds():
    soma = np.array([1e5, 1e5, 1e4])
    d_um = np.array([0.0, 6.99, 7.01, 69.9, 70.1])
    pts = soma + np.c_[d_um * 1000, np.zeros(5), np.zeros(5)]
    comp, far = astrocyte_compartments(pts, soma)
    assert comp.tolist() == ["Somatic", "Somatic", "Branch", "Branch", "Branch"]
    assert far.tolist() == [False, False, False, False, True]
    assert astrocyte_node_labels(pts, soma).tolist() == [0, 0, 5, 5, 5]

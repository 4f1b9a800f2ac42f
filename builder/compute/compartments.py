"""Compartment labels: source codes mapped by name, and the astrocyte distance rule."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from builder.schema import (
    ASTRO_COMPARTMENTS,
    ASTRO_FAR_UM,
    ASTRO_SOMATIC_UM,
    COMPARTMENT_NAMES,
    NM_PER_UM,
    Compartment,
    label_mapping,
)


class LabelError(ValueError):
    """A label value is not in the source's vocabulary."""


def map_node_labels(labels: np.ndarray, source_names: Mapping[int, str]) -> np.ndarray:
    """Translate a source's node labels into our codes, matching compartments by name.

    Parameters
    ----------
    labels : ndarray, shape (N,), int
        Labels as the source wrote them.
    source_names : mapping int -> str
        The source's vocabulary (e.g. :data:`builder.schema.PUBLISHED_LABEL_NAMES`).

    Returns
    -------
    ndarray, shape (N,), int64
        Our codes (0-5, :class:`builder.schema.Compartment`).

    Raises
    ------
    LabelError
        If a label is not in ``source_names`` (the message lists the unknown values).
    """
    labels = np.asarray(labels)
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
            raise LabelError("labels are not integers")
        labels = labels.astype(np.int64)
    mapping = label_mapping(source_names)
    lut_keys = np.array(sorted(mapping), dtype=np.int64)
    unknown = np.setdiff1d(np.unique(labels), lut_keys)
    if len(unknown):
        raise LabelError(f"unknown label value(s) {unknown[:10].tolist()}; expected one of {lut_keys.tolist()}")
    lut = np.full(lut_keys.max() + 1, -1, np.int64)
    lut[lut_keys] = [mapping[k] for k in lut_keys]
    return lut[labels.astype(np.int64)]


def code_names(codes: np.ndarray) -> np.ndarray:
    """Compartment strings of our codes 0-5, shape preserved (object array)."""
    names = np.array([COMPARTMENT_NAMES[i] for i in range(6)], dtype=object)
    return names[np.asarray(codes, dtype=np.int64)]


def astrocyte_node_labels(vertices_nm: np.ndarray, soma_nm: np.ndarray) -> np.ndarray:
    """Node labels for an astrocyte skeleton, which the release leaves unlabelled.

    Nodes within :data:`ASTRO_SOMATIC_UM` of the soma centre are ``Somatic`` (0), the others
    ``Unknown`` (5): astrocyte processes have no axon/dendrite identity.

    Parameters
    ----------
    vertices_nm : ndarray, shape (N, 3)
    soma_nm : ndarray, shape (3,)

    Returns
    -------
    ndarray, shape (N,), int64
    """
    d = np.linalg.norm(np.asarray(vertices_nm) - np.asarray(soma_nm), axis=1) / NM_PER_UM
    return np.where(d <= ASTRO_SOMATIC_UM, int(Compartment.SOMATIC), int(Compartment.UNKNOWN)).astype(np.int64)


def astrocyte_compartments(centroids_nm: np.ndarray, soma_nm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Astrocyte rule: ``Somatic`` within 7 um of the soma centre, else ``Branch``; ``far`` > 70 um.

    Parameters
    ----------
    centroids_nm : ndarray, shape (n, 3)
        Mitochondrion centroids, nm.
    soma_nm : ndarray, shape (3,)
        Soma centre, nm.

    Returns
    -------
    compartment : ndarray, shape (n,), object
    far : ndarray, shape (n,), bool
    """
    d = np.linalg.norm(np.asarray(centroids_nm, float).reshape(-1, 3) - np.asarray(soma_nm), axis=1) / NM_PER_UM
    somatic, branch = ASTRO_COMPARTMENTS
    comp = np.where(d <= ASTRO_SOMATIC_UM, somatic, branch).astype(object)
    return comp, d > ASTRO_FAR_UM


def synapse_compartments(
    cell_type: str, synapses_nm: np.ndarray, nodes_nm: np.ndarray, node_labels: np.ndarray, soma_nm: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest skeleton node of each synapse and its compartment.

    Parameters
    ----------
    cell_type : str
        ``astrocyte`` uses the astrocyte distance rule; other cells the node's label.
    synapses_nm : ndarray, shape (s, 3)
    nodes_nm : ndarray, shape (N, 3)
    node_labels : ndarray, shape (N,), our codes 0-5
    soma_nm : ndarray, shape (3,)

    Returns
    -------
    node_id : ndarray, shape (s,), int64
    compartment : ndarray, shape (s,), object
    """
    from builder.compute.association import nearest_nodes

    node, _ = nearest_nodes(nodes_nm, synapses_nm)
    if cell_type == "astrocyte":
        comp = astrocyte_compartments(synapses_nm, soma_nm)[0] if len(node) else np.zeros(0, object)
    else:
        comp = code_names(np.asarray(node_labels)[node]) if len(node) else np.zeros(0, object)
    return node, comp


def raw_label_edges(labels: np.ndarray, edges: np.ndarray) -> dict[str, int]:
    """How many skeleton edges join each pair of raw label codes (a check of what code 4 borders).

    Parameters
    ----------
    labels : ndarray, shape (N,), int
        Raw (source) label code of every node.
    edges : ndarray, shape (E, 2), int
        Skeleton edges as node index pairs.

    Returns
    -------
    dict
        ``{"a-b": count}`` over unordered code pairs ``a <= b`` that differ (e.g. ``"2-4"``),
        edges inside one code left out.
    """
    e = np.asarray(edges, np.int64).reshape(-1, 2)
    pair = np.sort(np.asarray(labels, np.int64)[e], axis=1)
    pair = pair[pair[:, 0] != pair[:, 1]]
    if not len(pair):
        return {}
    uniq, counts = np.unique(pair, axis=0, return_counts=True)
    return {f"{a}-{b}": int(c) for (a, b), c in zip(uniq, counts)}

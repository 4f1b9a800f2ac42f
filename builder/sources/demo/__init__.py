"""The synthetic demo volume, generated in the published Phase 1 layout and dialect.

``volume`` writes the raw files (tables, skeleton archive, mesh bundles) and the generator's
truth; ``morphology``, ``mitos`` and ``synapses`` make the cells, their mitochondria and their
synapses. The parsers of real files are elsewhere (:mod:`builder.sources.published`): the demo
is read by exactly the code that reads the release.
"""

from builder.sources.demo.volume import (
    BOX_LO_UM,
    BOX_SIZE_UM,
    GENERATOR_VERSION,
    MARKER,
    TRUTH_DIR,
    cell_roster,
    demo_source,
    generate_demo_volume,
)

__all__ = [
    "BOX_LO_UM", "BOX_SIZE_UM", "GENERATOR_VERSION", "MARKER", "TRUTH_DIR", "cell_roster", "demo_source",
    "generate_demo_volume",
]  # fmt: skip

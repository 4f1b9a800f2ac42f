"""What ``demo --as-volume`` is asked for (``--resolution``, ``--volume-cells``), checked before any
file, folder or lock is made (docs/volume.md). No heavy imports: the command line uses it."""

from __future__ import annotations

import math

from builder.config import DemoParams
from builder.errors import BuilderError
from builder.schema import DEMO_SEGMENT_ID_BASE

DEFAULT_CELLS = 3
DEFAULT_RESOLUTION_NM = (16.0, 16.0, 40.0)
#: Voxel sides below this are refused: a 3-cell grid at 4 nm would already be 4.4e13 voxels.
MIN_SIDE_NM = 4.0
MAX_SIDE_NM = 1e5
#: Grids (the box holding every cell and mesh) above this many voxels are refused before any voxel is
#: written. The 3-cell demo's grid is 2.7e11 voxels at 16 x 16 x 40 nm (its empty blocks are never
#: computed); 1e12 allows about 4 times that, hours of work at the measured rate (docs/volume.md).
MAX_GRID_VOXELS = 10**12


def check_request(
    resolution_nm: str | tuple[float, float, float] | None, cells: str | int | tuple[int, ...] | None
) -> tuple[tuple[float, float, float], int | tuple[int, ...]]:
    """The voxel size and the cells of a request (``--resolution``, ``--volume-cells``; None = the
    defaults), checked before any file is touched.

    Returns
    -------
    ((x, y, z) nm, cells)
        ``cells`` is a number N (a demo of N cells, 1-40) or a tuple of ids of the 40-cell demo.

    Raises
    ------
    ValueError
        Naming the value and what to give instead.
    """
    return _resolution(DEFAULT_RESOLUTION_NM if resolution_nm is None else resolution_nm), _cells(
        DEFAULT_CELLS if cells is None else cells
    )


def _resolution(value: str | tuple[float, float, float]) -> tuple[float, float, float]:
    try:
        res = tuple(float(x) for x in (value.split(",") if isinstance(value, str) else value))
    except (TypeError, ValueError):
        res = ()
    if len(res) != 3 or not all(MIN_SIDE_NM <= x <= MAX_SIDE_NM for x in res):
        raise ValueError(
            f"--resolution {value!r}: give three voxel sides in nm, each from {MIN_SIDE_NM:g} to {MAX_SIDE_NM:g}, e.g. 16,16,40"
        )
    return (res[0], res[1], res[2])


def _cells(value: str | int | tuple[int, ...]) -> int | tuple[int, ...]:
    """A number of cells or a tuple of ids of the default demo (their ids do not depend on the seed)."""
    n_max = DemoParams().cells
    first, last = DEMO_SEGMENT_ID_BASE + 1, DEMO_SEGMENT_ID_BASE + n_max
    parts = value.split(",") if isinstance(value, str) else [value] if isinstance(value, int) else list(value)
    texts = [str(t).strip() for t in parts if not isinstance(t, bool)]
    nums = (
        [int(t) for t in texts] if parts and len(texts) == len(parts) and all(t.isascii() and t.isdigit() for t in texts) else []
    )
    if len(nums) == 1 and 1 <= nums[0] <= n_max:
        return nums[0]
    if not nums or not all(first <= i <= last for i in nums) or len(set(nums)) != len(nums):
        raise ValueError(
            f"--volume-cells {value!r}: give a number of cells from 1 to {n_max}, or ids of the {n_max}-cell demo "
            f"({first} to {last}) separated by commas, each once"
        )
    return tuple(nums)


def check_grid(shape: list[int], res: list[float]) -> None:
    """Refuse a grid of more than :data:`MAX_GRID_VOXELS` voxels, before any voxel is written.

    Raises
    ------
    BuilderError
        Naming the grid, its voxel count and the fix (a coarser resolution or fewer cells).
    """
    n = math.prod(int(x) for x in shape)
    if n > MAX_GRID_VOXELS:
        sides = ", ".join(f"{x:g}" for x in res)
        raise BuilderError(
            f"the grid would be {list(shape)} = {n:.3g} voxels of [{sides}] nm, more than {MAX_GRID_VOXELS:.0e}; "
            "give a coarser --resolution or fewer --volume-cells"
        )

"""Explorer: a Dash app for the L2/3 dataset (3D cells, morphometrics, neuroglancer links)."""

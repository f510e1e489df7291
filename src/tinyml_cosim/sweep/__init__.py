"""Sweeps: one base scenario run over many points (impairments, seeds, boards, kernels, models) on Dask.

`model` is the sweep file, `axes` addresses scenario fields by path, `plan` expands the points with their hashes,
`store` keeps each point's result for resume, `execute` runs them (dask is imported there only), `results` makes
the table, `expect` checks expectations over the sweep and `report` writes the HTML page (docs/sweeps.md).
"""

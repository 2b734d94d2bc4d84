"""The benchmark harness: tracks, seeds and registries; one cell (track x generator x seed) of the loop,
the generation side that renders for generators, the sweep runner (local or Ray) and the results store."""

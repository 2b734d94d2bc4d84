"""Scenes as data: the backend-independent :class:`~rls3_bench.scene.spec.SceneSpec`, the asset and room
catalogue, uniformly random proposals and targeted construction ("put A left of B")."""

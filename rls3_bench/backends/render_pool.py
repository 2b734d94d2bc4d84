"""Rendering on several cores: a pool of processes, each holding one backend (rooms and object bodies
built once per process, not per scene), rendering a batch of independent specs in order.

A generator that proposes scenes in batches (``ctx.render_many``) gets its batch rendered here when
the cell has ``render_workers > 1``. The built-in v1 generators, the eval sets and the pretraining
corpus draw one scene at a time from one random stream, the next draw depending on whether the last
scene was valid, so they cannot be split among workers without changing what they draw; rendering
their candidates speculatively (draw k ahead, keep the first good one, rewind the stream) gives the
same scenes but was measured slower at 2 workers (docs/performance.md), so they stay sequential and
scale by running cells side by side (``--workers``) and generation beside training (pipelining).
"""

from __future__ import annotations

from collections.abc import Sequence

from rls3_bench.backends.base import Observation
from rls3_bench.scene.spec import SceneSpec

_backend = None  # the worker process's backend


def _init_worker(backend_name: str, options: dict) -> None:
    import signal

    from rls3_bench.backends import get_backend_class

    global _backend
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the pool on Ctrl-C
    _backend = get_backend_class(backend_name)(**options)


def _observe(spec: SceneSpec) -> Observation:
    return _backend.observe(spec)


class RenderPool:
    """``observe_many(specs)`` on ``workers`` processes (in this process when ``workers == 1``).

    Quacks like a backend (``observe``, ``renderer``, ``close``), so the harness takes a pool where it
    takes a backend. Use as a context manager.
    """

    def __init__(self, workers: int = 1, backend: str = "embedded", **options) -> None:
        from rls3_bench.backends import get_backend_class

        self.width = workers
        # names the renderer and renders single specs (ctx.render) without a round trip to a worker
        self._local = get_backend_class(backend)(**options)
        self._pool = None
        if workers > 1:
            import multiprocessing as mp

            self._pool = mp.get_context("spawn").Pool(workers, initializer=_init_worker, initargs=(backend, options))

    @property
    def renderer(self) -> str:
        return self._local.renderer

    def observe(self, spec: SceneSpec) -> Observation:
        return self._local.observe(spec)

    def observe_many(self, specs: Sequence[SceneSpec]) -> list[Observation]:
        if self._pool is None or len(specs) < 2:
            return [self._local.observe(s) for s in specs]
        # chunks of a quarter of a worker's share: few round trips (1.6x -> 1.8x on 2 cores), yet
        # a slow chunk cannot leave the other worker idle for long
        return self._pool.map(_observe, specs, chunksize=max(1, len(specs) // (4 * self.width)))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
        self._local.close()

    def __enter__(self) -> RenderPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

"""Learner checkpoints shared by the torch learners: one safetensors file, no pickle.

The file holds the checkpointed parameters (``param.*``) and the optimiser's tensor state
(``optim.<index>.<key>``); its metadata holds a JSON record of the learner's identity (model,
weights, recipe, seed), the step count, the optimiser's scalar state and the schema version. A
checkpoint is only loaded into a learner built with the same identity.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rls3_bench.data.atomic import atomic_write_bytes
from rls3_bench.errors import UserError

CHECKPOINT_SCHEMA = 1


class TorchCheckpointMixin:
    """``save``/``load`` for a learner with ``optimizer``, ``steps``, ``_identity()`` and
    ``_checkpoint_params()`` (the named parameters a checkpoint stores)."""

    def _checkpoint_params(self) -> dict[str, Any]:
        raise NotImplementedError

    def save(self, path: Path) -> None:
        import torch
        from safetensors.torch import save

        tensors = {f"param.{k}": v.detach().cpu().contiguous() for k, v in self._checkpoint_params().items()}
        scalars: dict[str, dict[str, Any]] = {}
        for index, state in self.optimizer.state_dict()["state"].items():
            for key, value in state.items():
                if torch.is_tensor(value):
                    tensors[f"optim.{index}.{key}"] = value.detach().cpu().contiguous()
                else:
                    scalars.setdefault(str(index), {})[key] = value
        record = {
            "schema_version": CHECKPOINT_SCHEMA,
            **self._identity(),
            "steps": self.steps,
            "optim_scalars": scalars,
        }
        atomic_write_bytes(path, save(tensors, metadata={"rls3_bench": json.dumps(record, sort_keys=True)}))

    def load(self, path: Path) -> None:
        """Restore what :meth:`save` wrote into a learner built with the same model, weights, recipe and seed."""
        from safetensors import safe_open

        path = Path(path)
        if not path.is_file():
            raise UserError(f"checkpoint {path} does not exist; pass a file written by {type(self).__name__}.save")
        try:
            with safe_open(str(path), framework="pt") as fh:
                record = json.loads((fh.metadata() or {}).get("rls3_bench", "{}"))
                tensors = {k: fh.get_tensor(k) for k in fh.keys()}
        except Exception as exc:  # SafetensorError (truncated or damaged file), bad JSON metadata
            raise UserError(
                f"checkpoint {path} is damaged or not a safetensors file ({type(exc).__name__}: "
                f"{' '.join(str(exc).split())[:100]}); use an intact checkpoint or start afresh"
            ) from None
        if not isinstance(record, dict):
            record = {}
        expected = json.loads(json.dumps(self._identity()))  # as JSON stores it (tuples become lists)
        found = {k: record.get(k) for k in expected}
        if record.get("schema_version") != CHECKPOINT_SCHEMA or found != expected:
            differ = sorted(k for k in expected if found[k] != expected[k]) or ["schema_version"]
            raise UserError(
                f"checkpoint {path} was written by a different learner setup (differs in {differ}); "
                "rebuild the learner with the checkpoint's model, weights, recipe and seed"
            )
        self._load_params(tensors)
        self._load_optimizer(tensors, record["optim_scalars"])
        self.steps = int(record["steps"])

    def _load_params(self, tensors: dict[str, Any]) -> None:
        import torch

        params = self._checkpoint_params()
        saved = {k[len("param.") :]: v for k, v in tensors.items() if k.startswith("param.")}
        if set(saved) != set(params):
            raise UserError(
                "checkpoint parameters do not match this learner's parameters; "
                "rebuild it with the checkpoint's arguments"
            )
        with torch.no_grad():
            for key, param in params.items():
                param.copy_(saved[key].to(param.device, param.dtype))

    def _load_optimizer(self, tensors: dict[str, Any], scalars: dict[str, dict[str, Any]]) -> None:
        state: dict[int, dict[str, Any]] = {int(i): dict(v) for i, v in scalars.items()}
        for key, value in tensors.items():
            if key.startswith("optim."):
                _, index, name = key.split(".", 2)
                state.setdefault(int(index), {})[name] = value
        current = self.optimizer.state_dict()
        self.optimizer.load_state_dict({"state": state, "param_groups": current["param_groups"]})

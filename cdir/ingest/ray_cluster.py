"""Ray itself for the Ray ingest engine (:mod:`cdir.ingest.ray_engine`): the plan of where and how
wide its stage runs, and connecting to a cluster or starting a local Ray sized for that plan, with
the runtime environment its workers need.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

LOCAL_OBJECT_STORE = 200 * 2**20  # bytes: records and shard paths only pass through it


@dataclass(frozen=True)
class RayPlan:
    """Where and how wide the Ray stage runs."""

    address: str | None = None  # None: start Ray in this process (or use the one running)
    num_workers: int = 2  # model-holding actors
    num_cpus: float = 1.0  # per actor
    num_gpus: float = 0.0  # per actor; > 0 puts the models on the GPU
    shard_size: int = 256  # records per map_batches call, i.e. per shard
    object_store_memory: int = LOCAL_OBJECT_STORE  # for a Ray started here


def start_ray(plan: RayPlan = RayPlan()) -> bool:
    """Connect to ``plan.address``, or start a local Ray sized for ``plan``; returns whether it
    was started here (so the caller shuts it down). A Ray already running is used as it is."""
    import ray

    if ray.is_initialized():
        return False
    address = plan.address or os.environ.get("RAY_ADDRESS")  # set inside `ray job submit`
    if address:
        ray.init(address=address, log_to_driver=False, runtime_env=_cluster_env())
    else:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # a local run reports nowhere
        cpus = max(1, int(np.ceil(plan.num_workers * plan.num_cpus)))
        ray.init(
            num_cpus=cpus,
            num_gpus=int(np.ceil(plan.num_workers * plan.num_gpus)) or None,
            object_store_memory=plan.object_store_memory,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env=local_env(),
        )
    quiet_ray_data()
    return True


def local_env() -> dict[str, Any]:
    """Runtime env of a Ray started on this machine: workers import cdir from this checkout."""
    here = str(Path(__file__).resolve().parents[2])
    paths = [here, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {"env_vars": {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}}


FORWARDED_ENV = ("CDIR_MODEL_DIR", "HF_HOME", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def _cluster_env() -> dict[str, Any]:
    """Runtime env on a cluster: cdir's code is shipped with the job (its dependencies must be
    installed on the nodes), and the driver's model locations are the workers' too."""
    env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
    return {"py_modules": [str(Path(__file__).resolve().parents[1])], "env_vars": env}


def quiet_ray_data() -> None:
    """cdir reports progress itself; Ray Data's bars would mix into the CLI's output."""
    from ray.data import DataContext

    ctx = DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.enable_operator_progress_bars = False

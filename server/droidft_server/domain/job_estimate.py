"""A job's resource estimate from its spec: the model's facts, its data's token lengths, the device."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from .datasets.tokens import tokenizers_loaded_once
from .distributed import is_local
from .errors import DroidftError, ErrorKind, Reason
from .estimation import DeviceProfile, Estimate, ModelFacts, ModelFactsError, estimate, read_model_facts
from .job_data import JobDataCheck, check_job_data
from .model_check import BuildCheck, ModelUnloadable, check_tokenizer_settings, refuse_unbuildable, unloadable
from .online_models import is_reward_model, online_model_paths
from .spec import JobSettings, with_train_records


def estimate_job(settings: JobSettings, device: DeviceProfile, data: JobDataCheck | None = None) -> Estimate:
    """The estimate, with the token lengths of `data` (create's one pass), or of a pass of its own."""
    facts = _facts("spec.model_path", settings.model_path)
    # An online method's judge or reward model (at most one) is loaded too: its weights and passes count.
    judges = [_facts(field, path) for field, path in online_model_paths(settings)]
    data = data or check_job_data(settings, max_issues=1)
    if settings.epochs is not None:  # the iterations follow from the records the method uses
        settings = with_train_records(settings, data.records_used(data.train))
    distributed = settings.distributed
    if distributed.ranks > 1:  # the ranks on other machines take none of this machine's memory and cores
        local_ranks = sum(is_local(host) for host in distributed.hosts)
        settings = dataclasses.replace(settings, distributed=dataclasses.replace(distributed, local_ranks=local_ranks))
    judge = judges[0] if judges else None
    return estimate(settings, facts, token_lengths=data.token_lengths(), device=device, judge=judge)


def estimate_unchecked_job(settings: JobSettings, device: DeviceProfile, builds: BuildCheck) -> Estimate:
    """The estimate of a job that has not been through create's checks (EstimateResources). A model mlx-lm cannot
    build has no figures to give, and the data's token counts read the models' tokenizer files: both are checked
    first, and refused as create refuses them (builds: see model_check)."""
    with tokenizers_loaded_once():
        for field, path in [("spec.model_path", settings.model_path), *online_model_paths(settings)]:
            try:
                check_tokenizer_settings(Path(path))
            except ModelUnloadable as error:
                raise unloadable(field, path, error) from None
            refuse_unbuildable(field, path, builds, reward_model=is_reward_model(field))
        return estimate_job(settings, device)


def _facts(field: str, path: str) -> ModelFacts:
    try:
        return read_model_facts(Path(path))
    except (ModelFactsError, OSError) as error:
        raise DroidftError(
            ErrorKind.FAILED_PRECONDITION,
            Reason.MODEL_UNREADABLE,
            f"{field}: cannot read the model at {path!r}: {error}",
            {"field": field, "path": path},
        ) from None

"""Executors per platform, found by `executor_for(platform, settings)`.

Each module `remediation/executors/<platform>.py` exposes `create(settings) -> Executor`; modules are imported
lazily, so a platform's SDK is loaded only when an incident of that platform is remediated.
"""

from __future__ import annotations

import importlib
import re

from remediation.executors.base import Executor
from shared.config import Settings

_PLATFORM = re.compile(r"^[a-z][a-z0-9_]{0,30}$")


class NoExecutor(LookupError):
    """No executor module exists for the platform."""


def executor_for(platform: str, settings: Settings) -> Executor:
    if not _PLATFORM.fullmatch(platform or ""):
        raise NoExecutor(f"no remediation executor for platform {platform!r}")
    try:
        module = importlib.import_module(f"remediation.executors.{platform}")
    except ModuleNotFoundError as exc:
        if exc.name != f"remediation.executors.{platform}":
            raise
        raise NoExecutor(f"no remediation executor for platform {platform!r}") from exc
    executor: Executor = module.create(settings)
    return executor

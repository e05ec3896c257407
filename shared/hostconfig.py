"""Values from host.json that the app itself needs (e.g. maxDequeueCount for the last attempt)."""

from __future__ import annotations

import functools
import json
from typing import Any

from shared.config import REPO_ROOT

DEFAULT_MAX_DEQUEUE_COUNT = 5


@functools.cache
def host_json() -> dict[str, Any]:
    path = REPO_ROOT / "host.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def max_dequeue_count() -> int:
    queues = host_json().get("extensions", {}).get("queues", {})
    return int(queues.get("maxDequeueCount", DEFAULT_MAX_DEQUEUE_COUNT))

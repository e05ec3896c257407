"""Which strings can be Table Storage keys. Pure.

A PartitionKey / RowKey cannot hold `/`, `\\`, `#`, `?` or control characters and is at most 1 KiB. An id
from a URL that breaks these rules names nothing: it is answered 404 without a storage call (storage would
reject the request itself, which used to read as "storage unavailable").
"""

from __future__ import annotations

import re

MAX_KEY_CHARS = 512  # 1 KiB of UTF-16
_FORBIDDEN = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")


def impossible_key_reason(key: str) -> str | None:
    """None when `key` could be a stored id; otherwise why it cannot be one."""
    if not key:
        return "the id is empty"
    if len(key) > MAX_KEY_CHARS:
        return f"ids are at most {MAX_KEY_CHARS} characters"
    if _FORBIDDEN.search(key):
        return "ids never contain '/', '\\\\', '#', '?' or control characters"
    if key != key.strip():
        return "ids never start or end with spaces"
    return None

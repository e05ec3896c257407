"""Conversations kept per session in Table Storage (AGENT_SESSIONS_TABLE).

PartitionKey = session id, RowKey = "msg|<seq, 6 digits>": one row per chat message (user, assistant with its
tool calls, tool result), already redacted and capped. `history` returns the last N messages, starting at a
user message so no tool result is sent without the assistant turn that asked for it.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient

from shared.redaction import redact, redact_text
from shared.timeutil import utc_now_iso

ROW_PREFIX = "msg|"
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CONTENT_CAP = 30_000  # a table property holds at most 32K UTF-16 characters
MAX_WRITE_ATTEMPTS = 20


def new_session_id() -> str:
    return uuid.uuid4().hex


def valid_session_id(value: str) -> bool:
    return bool(SESSION_ID.match(value))


class SessionStore:
    def __init__(self, table: TableClient) -> None:
        self.table = table

    def _rows(self, session_id: str) -> list[dict[str, Any]]:
        query = "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi"
        params = {"pk": session_id, "lo": ROW_PREFIX, "hi": ROW_PREFIX + "~"}
        return sorted((dict(e) for e in self.table.query_entities(query, parameters=params)),
                      key=lambda e: str(e["RowKey"]))

    def history(self, session_id: str, limit: int) -> list[dict[str, Any]]:
        rows = self._rows(session_id)[-limit:] if limit > 0 else []
        while rows and rows[0].get("role") != "user":
            rows.pop(0)
        messages: list[dict[str, Any]] = []
        asked: set[str] = set()  # call ids of the latest assistant turn: a tool result without one is refused
        for row in rows:
            message = self._message(row)
            if message["role"] == "tool" and message.get("tool_call_id") not in asked:
                continue
            if message["role"] == "assistant":
                asked = {str(c.get("id")) for c in message.get("tool_calls") or [] if isinstance(c, dict)}
            messages.append(message)
        return messages

    @staticmethod
    def _message(row: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {"role": row["role"], "content": row.get("content") or ""}
        if row.get("tool_calls_json"):
            try:
                calls = json.loads(row["tool_calls_json"])
            except ValueError:  # a row written before tool calls were kept whole: replay the text only
                calls = None
            if isinstance(calls, list) and calls:
                message["tool_calls"] = calls
                message["content"] = row.get("content") or None
        if row.get("tool_call_id"):
            message["tool_call_id"] = row["tool_call_id"]
        return message

    @staticmethod
    def _calls_json(calls: list[dict[str, Any]]) -> str:
        """The tool calls as JSON that fits one table property: arguments are shortened, never the JSON cut."""
        calls = redact(calls)
        text = json.dumps(calls)
        room = CONTENT_CAP // max(1, len(calls))
        while len(text) > CONTENT_CAP and room > 16:
            room //= 2
            for call in calls:
                function = call.get("function") or {}
                if len(str(function.get("arguments", ""))) > room:
                    function["arguments"] = json.dumps({"shortened": str(function["arguments"])[:room]})
            text = json.dumps(calls)
        return text if len(text) <= CONTENT_CAP else "[]"

    def append(self, session_id: str, messages: list[dict[str, Any]]) -> None:
        if not messages:
            return
        rows = self._rows(session_id)
        seq = int(str(rows[-1]["RowKey"])[len(ROW_PREFIX):]) if rows else 0
        now = utc_now_iso()
        for message in messages:
            entity: dict[str, Any] = {"PartitionKey": session_id, "role": message["role"], "time": now,
                                      "content": redact_text(str(message.get("content") or ""))[:CONTENT_CAP]}
            if message.get("tool_calls"):
                entity["tool_calls_json"] = self._calls_json(message["tool_calls"])
            if message.get("tool_call_id"):
                entity["tool_call_id"] = str(message["tool_call_id"])[:200]
            for _ in range(MAX_WRITE_ATTEMPTS):  # another writer on the same session takes the next number
                seq += 1
                entity["RowKey"] = f"{ROW_PREFIX}{seq:06d}"
                try:
                    self.table.create_entity(entity)
                    break
                except ResourceExistsError:
                    continue

"""Timer triggers on their NCRONTAB schedules (UTC), with runOnStartup and past_due."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from azure.functions.timer import TimerRequest

from tools.devhost.app_loader import FunctionInfo, resolve
from tools.devhost.http_server import invoke
from tools.devhost.ncrontab import Schedule

log = logging.getLogger("devhost.timer")
PAST_DUE_AFTER = timedelta(seconds=1)


class TimerRunner:
    def __init__(self, function: FunctionInfo) -> None:
        self.function = function
        self.expression = resolve(str(function.trigger["schedule"]))
        self.schedule = Schedule.parse(self.expression)
        self.run_on_startup = bool(function.trigger.get("runOnStartup"))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"timer:{function.name}", daemon=True)
        self.invocations = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _fire(self, due: datetime) -> None:
        past_due = datetime.now(UTC) - due > PAST_DUE_AFTER
        self.invocations += 1
        try:
            invoke(self.function, {self.function.arg_name: TimerRequest(past_due=past_due)})
        except Exception:
            log.exception("timer function %s failed", self.function.name)

    def _run(self) -> None:
        if self.run_on_startup and not self.function.disabled():
            self._fire(datetime.now(UTC))
        due = self.schedule.next_after(datetime.now(UTC))
        while not self._stop.is_set():
            wait = (due - datetime.now(UTC)).total_seconds()
            if wait > 0 and self._stop.wait(min(wait, 1.0)):
                break
            if datetime.now(UTC) < due:
                continue
            if not self.function.disabled():
                self._fire(due)
            due = self.schedule.next_after(max(due, datetime.now(UTC) - PAST_DUE_AFTER))

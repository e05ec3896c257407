"""Timer triggers on their NCRONTAB schedules (UTC), with runOnStartup.

past_due is always False here. In the host (WebJobs.Extensions TimerListener.HandleTimerEvent) a
scheduled or runOnStartup invocation is never past due, however late it runs: IsPastDue is only
set for the one catch-up run at startup when the storage-backed ScheduleMonitor finds a missed
occurrence, which this local host does not keep. Occurrences missed by more than CATCH_UP_WINDOW
(a long-running function) are skipped, as the host computes the next one from the invocation time.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from azure.functions.timer import TimerRequest

from tools.devhost.app_loader import FunctionInfo, resolve
from tools.devhost.http_server import invoke
from tools.devhost.ncrontab import Schedule

log = logging.getLogger("devhost.timer")
CATCH_UP_WINDOW = timedelta(seconds=1)


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

    def _fire(self) -> None:
        self.invocations += 1
        try:
            invoke(self.function, {self.function.arg_name: TimerRequest(past_due=False)})
        except Exception:
            log.exception("timer function %s failed", self.function.name)

    def _run(self) -> None:
        if self.run_on_startup and not self.function.disabled():
            self._fire()
        due = self.schedule.next_after(datetime.now(UTC))
        while not self._stop.is_set():
            wait = (due - datetime.now(UTC)).total_seconds()
            if wait > 0 and self._stop.wait(min(wait, 1.0)):
                break
            if datetime.now(UTC) < due:
                continue
            if not self.function.disabled():
                self._fire()
            due = self.schedule.next_after(max(due, datetime.now(UTC) - CATCH_UP_WINDOW))

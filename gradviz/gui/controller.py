"""RunController: the window's handle on the runner, turning its background-thread events into Qt signals."""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Signal, Slot

from gradviz.core.runner import RunHandle, Runner, RunRequest
from gradviz.core.trace import ErrorInfo, Trace
from gradviz.gui.i18n import QT_TRANSLATE_NOOP


class RunController(QObject):
    """Runs one program at a time in the runner's worker process and reports on the GUI thread.

    Signals (all delivered on the thread that owns the controller, whatever thread the runner calls from):
    `started()`, `output(text)` as the program prints, `progress(event dict)` for pass_started / pass_finished /
    line events, `trace_ready(Trace)` once per run with the final trace whatever its status, then
    `run_failed(ErrorInfo)` if that status is not "ok", and `running_changed(bool)`."""

    started = Signal()
    output = Signal(str)
    progress = Signal(object)
    trace_ready = Signal(object)
    run_failed = Signal(object)
    running_changed = Signal(bool)

    # Private hops from runner threads to the GUI thread: emitting from another thread queues the call.
    _event_arrived = Signal(int, object)
    _run_ended = Signal(int, object)

    def __init__(self, timeout: float = 30.0, memory_limit: int | None = None, warm: bool = True,
                 parent: QObject | None = None, keep_last: bool = True) -> None:
        super().__init__(parent)
        self._timeout = timeout
        self._keep_last = keep_last
        self._memory_limit = memory_limit
        self._warm = warm
        self._runner: Runner | None = None
        self._handle: RunHandle | None = None
        self._run_id = 0
        self._event_arrived.connect(self._on_event)
        self._run_ended.connect(self._on_ended)

    # -- public API -----------------------------------------------------------------------------------------

    @property
    def timeout(self) -> float:
        return self._timeout

    def set_timeout(self, seconds: float) -> None:
        """Time limit for the next runs (sent with each request, so the warm worker is kept)."""
        self._timeout = seconds

    def set_keep_last(self, on: bool) -> None:
        """Whether the next runs keep their last backward pass in full (RunRequest.keep_last)."""
        self._keep_last = on

    def is_running(self) -> bool:
        return self._handle is not None

    def warm_up(self) -> None:
        """Start the worker process now (it imports torch once) so the first Run is quick."""
        self._ensure_runner()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until the warm worker has torch imported (tests and `gradviz shot` call this once)."""
        return self._ensure_runner().ready(timeout)

    def run(self, source: str, filename: str = "<editor>", root: str | None = None) -> bool:
        """Start running `source`; False if a run is already going (stop it first)."""
        if self._handle is not None:
            return False
        self._run_id += 1
        run_id = self._run_id
        request = RunRequest(source=source, filename=filename, root=root, timeout=self._timeout,
                             keep_last=self._keep_last)
        try:
            runner = self._ensure_runner()
            handle = runner.start(request, lambda event: self._event_arrived.emit(run_id, event))
        except Exception as e:  # the worker could not start: report it like a failed run
            self._handle = None
            self.running_changed.emit(False)
            self.run_failed.emit(ErrorInfo(type(e).__name__, str(e)))
            return False
        self._handle = handle
        self.running_changed.emit(True)
        self.started.emit()
        threading.Thread(target=self._wait_for_trace, args=(run_id, handle), name=f"gradviz-wait-{run_id}",
                         daemon=True).start()
        return True

    def stop(self) -> None:
        """Cancel the current run; its (cancelled) trace still arrives through `trace_ready`."""
        if self._handle is not None:
            self._handle.cancel()

    def shutdown(self) -> None:
        """Stop any run and the worker process (window closing)."""
        self.stop()
        if self._runner is not None:
            self._runner.close()
            self._runner = None

    # -- internals ------------------------------------------------------------------------------------------

    def _ensure_runner(self) -> Runner:
        if self._runner is None:
            self._runner = Runner(timeout=self._timeout, memory_limit=self._memory_limit, warm=self._warm)
        return self._runner

    def _wait_for_trace(self, run_id: int, handle: RunHandle) -> None:
        """Runs on a helper thread: block until the run's final trace exists, then hop to the GUI thread."""
        try:
            trace: Any = handle.wait(None)
        except Exception as e:
            trace = ErrorInfo(type(e).__name__, str(e))
        self._run_ended.emit(run_id, trace)

    @Slot(int, object)
    def _on_event(self, run_id: int, event: dict) -> None:
        if run_id != self._run_id:
            return  # a straggler from a previous run
        kind = event.get("event")
        if kind == "stdout":
            self.output.emit(str(event.get("text", "")))
        elif kind in ("pass_started", "pass_finished", "line", "finished"):
            self.progress.emit(event)

    @Slot(int, object)
    def _on_ended(self, run_id: int, result: object) -> None:
        if run_id != self._run_id:
            return
        self._handle = None
        if isinstance(result, Trace):
            self.trace_ready.emit(result)
            if result.status != "ok":
                message = QCoreApplication.translate("RunController", _STATUS_MESSAGES.get(result.status, ""))
                self.run_failed.emit(result.error or ErrorInfo(result.status, message))
        else:
            error = result if isinstance(result, ErrorInfo) else ErrorInfo("RunnerError", "the run produced no trace")
            self.run_failed.emit(error)
        self.running_changed.emit(False)


_STATUS_MESSAGES = {
    "timeout": QT_TRANSLATE_NOOP("RunController", "the program ran longer than the time limit and was stopped"),
    "cancelled": QT_TRANSLATE_NOOP("RunController", "stopped before the end"),
    "error": QT_TRANSLATE_NOOP("RunController", "the program failed"),
}

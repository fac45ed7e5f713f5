"""Runs a user's program in a warm child process and returns its `Trace`: isolation, timeout, cancel, memory
cap, bounded output and live progress events. The parent side: it never imports torch and never executes,
unpickles or evaluates anything the worker sends — only JSON lines on a pipe of their own.

    with Runner(timeout=30) as runner:
        handle = runner.start(RunRequest(source, "/abs/path/prog.py"), on_event=print)
        trace = handle.wait()          # status ok / error / timeout / cancelled, always a Trace

Each worker process serves exactly one run; while one runs (or right after) the next one warms up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    import logging

    from gradviz.core.trace import ErrorInfo, Trace

# JSON, logging and the trace classes are imported when first needed, not here: `gradviz render` spawns
# its worker right after importing this module, and every millisecond before that delays the whole run.

EventCallback = Callable[[dict[str, Any]], None]

DEFAULT_TIMEOUT = 30.0
STARTUP_TIMEOUT = 120.0  # a cold worker importing torch on a very busy machine
SPARE_DELAY = 0.5  # seconds into a run before the next worker starts warming up (if the run is still going)
MIN_RUN_TIME = 1.0  # a program that waited for a cold worker still runs this long, so a timeout can name its line
OUTPUT_LIMIT = 64 * 1024  # bytes of output kept at the start and at the end of a run
DIAGNOSTICS_LIMIT = 16 * 1024
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))


def _log() -> logging.Logger:
    import logging

    return logging.getLogger(__name__)


@dataclass(frozen=True)
class RunRequest:
    """What to run: the program text, the path it is shown and resolved under, and capture options."""

    source: str
    filename: str
    root: str | None = None
    timeout: float | None = None  # None: the runner's default
    keep_first: int = 10
    keep_last: bool = True  # False: passes beyond keep_first, the last too, run hook-free as summaries
    values_limit: int = 1024  # full values kept for tensors up to this many elements
    saved: bool = True  # record each node's saved tensors (drawing alone does not need them)


def default_memory_limit() -> int:
    """Half of the physical RAM: plenty for a teaching program, and the machine stays usable."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):
        import psutil

        return int(psutil.virtual_memory().total) // 2


def format_bytes(n: int) -> str:
    """1536 -> '1.5 KiB' (binary units, as memory limits are given)."""
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{n} bytes" if unit == "bytes" else f"{value:.3g} {unit}"
        value /= 1024
    return f"{value:.3g} TiB"


class OutputRecord:
    """The first and last `limit` bytes of a stream of UTF-8 text and its total size, in constant memory."""

    def __init__(self, limit: int = OUTPUT_LIMIT) -> None:
        self.limit = limit
        self.total = 0
        self._head = bytearray()
        self._head_open = True
        self._tail: deque[bytes] = deque()
        self._tail_len = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        if self._head_open:
            room = self.limit - len(self._head)
            self._head += data[:room]
            data = data[room:]
            self._head_open = len(self._head) < self.limit
        if not data:
            return
        if len(data) >= self.limit:
            self._tail.clear()
            self._tail_len = 0
            data = data[-self.limit:]
        self._tail.append(data)
        self._tail_len += len(data)
        while self._tail_len - len(self._tail[0]) >= self.limit:
            self._tail_len -= len(self._tail.popleft())

    def skip(self, n: int) -> None:
        """`n` bytes were produced but never seen here: count them; the tail restarts after the gap."""
        if n > 0:
            self.total += n
            self._head_open = False
            self._tail.clear()
            self._tail_len = 0

    def text(self) -> str:
        """Head, then (if anything was dropped) a marker saying how much, then tail."""
        tail = b"".join(self._tail)[-self.limit:]
        dropped = self.total - len(self._head) - len(tail)
        if dropped <= 0:
            return (bytes(self._head) + tail).decode("utf-8", "replace")
        return (f"{self._head.decode('utf-8', 'ignore')}\n[... {dropped} bytes of output not kept ...]\n"
                f"{tail.decode('utf-8', 'ignore')}")


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MKL_NUM_THREADS", "1")
    env.setdefault("MPLBACKEND", "Agg")  # plt.show() in a program must not open windows from the worker
    env.update(PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8", PYTHONUTF8="1")
    return env


class _Worker:
    """One worker process in its own process group, from spawn (warming up) to death. Serves one run."""

    def __init__(self, python: str) -> None:
        read_end, write_end = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [python, "-m", "gradviz.core.worker", "--channel", str(write_end)],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                pass_fds=(write_end,), start_new_session=True, cwd=_PACKAGE_ROOT, env=_worker_env())
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        self.ready = threading.Event()
        self.fatal: dict[str, Any] | None = None
        self._messages: BinaryIO = os.fdopen(read_end, "rb")
        self._diagnostics: deque[bytes] = deque()
        self._diag_len = 0
        self._lock = threading.Lock()
        self._handle: RunHandle | None = None
        self._gone = False
        self._reader = threading.Thread(target=self._read_messages, daemon=True,
                                        name=f"gradviz-worker-{self.proc.pid}")
        self._diag_reader = threading.Thread(target=self._read_diagnostics, daemon=True,
                                             name=f"gradviz-worker-{self.proc.pid}-stderr")
        self._reader.start()
        self._diag_reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        with self._lock:
            return not self._gone and self.proc.poll() is None

    def attach(self, handle: RunHandle) -> None:
        """From now on the worker's messages go to `handle` (and its death too, even if it already died)."""
        with self._lock:
            self._handle = handle
            gone = self._gone
        if gone:
            threading.Thread(target=handle._on_worker_gone, daemon=True).start()

    def send_request(self, payload: dict[str, Any]) -> None:
        """Write the request on the worker's stdin (blocks while a cold worker is still importing)."""
        import json

        stdin = self.proc.stdin
        assert stdin is not None
        try:
            stdin.write((json.dumps(payload) + "\n").encode("utf-8", "surrogatepass"))
            stdin.close()
        except (OSError, ValueError):
            pass  # the worker died: its reader reports that

    def kill(self) -> None:
        """SIGKILL the whole process group: the worker and anything the program started."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def reap(self, timeout: float) -> int:
        """Wait for the worker's exit status (killing it if it takes longer), then clear its group."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)  # Popen.wait(timeout) backs off to 50 ms sleeps: too slow for a run's latency
        self.kill()
        return self.proc.wait()

    def close(self) -> None:
        self.kill()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            _log().warning("worker %d did not exit after SIGKILL", self.proc.pid)
        for stream in (self.proc.stdin, self.proc.stderr):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass

    def diagnostics(self, wait: float = 0.0) -> str:
        """The tail of what the worker wrote on its stderr: crash dumps, its own tracebacks."""
        self._diag_reader.join(wait)
        with self._lock:
            return b"".join(self._diagnostics).decode("utf-8", "replace")

    def _read_messages(self) -> None:
        try:
            from gradviz.core.jsonio import loads

            for raw in self._messages:
                try:
                    message = loads(raw)
                except ValueError:
                    _log().warning("worker %d sent a line that is not JSON: %.200r", self.pid, raw)
                    continue
                if not isinstance(message, dict):
                    continue
                event = message.get("event")
                if event == "ready":
                    self.ready.set()
                elif event == "fatal":
                    self.fatal = message
                elif self._handle is not None and self._handle._on_message(message):
                    break
        except Exception:  # noqa: BLE001 - a broken reader must still end the run
            _log().exception("reading from worker %d failed", self.pid)
        finally:
            self._messages.close()
            with self._lock:
                self._gone = True
                handle = self._handle
            if handle is not None:
                handle._on_worker_gone()

    def _read_diagnostics(self) -> None:
        stderr = self.proc.stderr
        assert stderr is not None
        try:
            while chunk := os.read(stderr.fileno(), 8192):
                with self._lock:
                    self._diagnostics.append(chunk)
                    self._diag_len += len(chunk)
                    while self._diag_len - len(self._diagnostics[0]) >= DIAGNOSTICS_LIMIT:
                        self._diag_len -= len(self._diagnostics.popleft())
        except (OSError, ValueError):
            pass


class RunHandle:
    """One run in progress. `wait()` gives its `Trace`; `cancel()` stops it; events arrive on `on_event`
    (from a background thread) as they happen."""

    def __init__(self, worker: _Worker, request: RunRequest, *, timeout: float, memory_limit: int | None,
                 on_event: EventCallback | None, on_finished: Callable[[RunHandle], None]) -> None:
        self.request = request
        self.timeout = timeout
        self.memory_limit = memory_limit
        self._worker = worker
        self._on_event = on_event
        self._on_finished = on_finished
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._finishing = False
        self._trace: Trace | None = None
        self._final: dict[str, Any] | None = None
        self._stop_reason: str | None = None  # our own record of why we killed it: never guessed from exit codes
        self._passes: dict[int, dict[str, Any]] = {}
        self._line: int | None = None
        self._exit: dict[str, Any] | None = None
        self._output = OutputRecord()
        self._output_total = 0
        self._requested = time.monotonic()
        self._started: float | None = None
        self._ended: float | None = None
        self._timer: threading.Timer | None = None

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def pid(self) -> int:
        """The worker's process id (also its process group id)."""
        return self._worker.pid

    def wait(self, timeout: float | None = None) -> Trace | None:
        """The run's trace, or None if it is still running after `timeout` seconds."""
        self._done.wait(timeout)
        return self._trace

    def cancel(self) -> None:
        """Stop the run now; the trace says "cancelled", with the passes finished so far."""
        self._stop("cancelled")

    # ---------------------------------------------------------------- worker side

    def _begin(self) -> None:
        self._arm("startup", STARTUP_TIMEOUT)
        self._worker.attach(self)
        payload = {"source": self.request.source, "filename": self.request.filename, "root": self.request.root,
                   "keep_first": self.request.keep_first, "keep_last": self.request.keep_last,
                   "memory_limit": self.memory_limit,
                   "values_limit": self.request.values_limit, "saved": self.request.saved}
        threading.Thread(target=self._worker.send_request, args=(payload,), daemon=True,
                         name=f"gradviz-request-{self._worker.pid}").start()

    def _arm(self, reason: str, seconds: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = threading.Timer(seconds, self._stop, args=(reason,))
        self._timer.daemon = True
        self._timer.start()

    def _on_message(self, message: dict[str, Any]) -> bool:
        """Handle one worker message; True when the run's final trace has arrived."""
        event = message.get("event")
        if event == "trace":
            with self._lock:
                if self._stop_reason is None:
                    self._final = message.get("trace")
            self._finish()
            return True
        if event == "started":
            self._started = time.monotonic()
            deadline = max(self._requested + self.timeout, self._started + min(MIN_RUN_TIME, self.timeout))
            with self._lock:
                if self._stop_reason is None:
                    self._arm("timeout", deadline - self._started)
            self._emit({"event": "started", "pid": message.get("pid")})
            return False
        if event == "stdout":
            text = message.get("text", "")
            skipped = int(message.get("skipped", 0))
            self._output.skip(skipped)
            self._output.add(text.encode("utf-8", "replace"))
            self._output_total = int(message.get("total", self._output.total))
            if skipped:  # listeners show the text as it comes: tell them where a flood was thinned out
                message = {**message, "text": f"\n[... {skipped} bytes of output skipped ...]\n{text}"}
        elif event == "line":
            self._line = message.get("line")
        elif event == "pass_finished":
            self._passes[int(message["index"])] = message["pass"]
        elif event == "exit":
            self._exit = message
            if message.get("line") is not None:
                self._line = message["line"]
            return False
        self._emit(message)
        return False

    def _on_worker_gone(self) -> None:
        self._finish()

    def _stop(self, reason: str) -> None:
        with self._lock:
            if self._finishing or self._final is not None or self._stop_reason is not None:
                return
            self._stop_reason = reason
            self._ended = time.monotonic()
        self._worker.kill()
        safety = threading.Timer(3.0, self._finish)  # in case the pipe never reports the death
        safety.daemon = True
        safety.start()

    def _emit(self, event: dict[str, Any]) -> None:
        if self._on_event is None or self._done.is_set():
            return
        try:
            self._on_event(event)
        except Exception:  # noqa: BLE001 - a faulty listener must not break the run
            _log().exception("on_event listener failed on %s", event.get("event"))

    def _finish(self) -> None:
        from gradviz.core.trace import ErrorInfo, Trace

        with self._lock:
            if self._finishing:
                return
            self._finishing = True
            if self._ended is None:
                self._ended = time.monotonic()
        if self._timer is not None:
            self._timer.cancel()
        try:
            trace = self._result()
        except Exception as e:  # noqa: BLE001 - the caller always gets a trace
            _log().exception("building the trace of worker %d failed", self._worker.pid)
            trace = Trace(status="error", error=ErrorInfo("RunnerError", f"gradviz could not read the run: {e}"),
                          filename=self.request.filename)
        self._trace = trace
        on_event, self._on_event = self._on_event, None
        try:
            self._on_finished(self)  # before `done`: whoever waits on this run finds the next worker spawned
        finally:
            self._done.set()
        if on_event is not None:
            try:
                on_event({"event": "finished", "status": trace.status})
            except Exception:  # noqa: BLE001
                _log().exception("on_event listener failed on finished")

    def _result(self) -> Trace:
        from gradviz.core.trace import ErrorInfo, Trace

        if self._final is not None:
            self._worker.kill()
            # the trace is whole: collect the killed worker's status without making the caller wait for it
            threading.Thread(target=self._worker.reap, args=(2.0,), name="gradviz-reap", daemon=True).start()
            return Trace.from_dict(self._final)
        if self._stop_reason in ("timeout", "cancelled"):
            self._worker.reap(2.0)
            return self._partial(self._stop_reason, self._stopped_error(self._stop_reason))
        if self._stop_reason == "startup":
            self._worker.reap(2.0)
            return self._partial("error", ErrorInfo(
                "WorkerStartFailed", f"the worker process did not start within {STARTUP_TIMEOUT:g} s"
                + self._diagnostics_note()))
        code = self._worker.reap(2.0)
        return self._partial("error", self._crash_error(code))

    def _partial(self, status: str, error: ErrorInfo) -> Trace:
        """The trace of a run that never sent its own: passes and output received so far, plus `error`."""
        from gradviz.core.trace import Pass, Trace

        received = dict(self._passes)  # a copy: the reader thread may still be adding to it
        passes = []
        for index in sorted(received):
            try:
                passes.append(Pass.from_dict(received[index]))
            except (KeyError, TypeError, ValueError):
                _log().warning("worker %d sent a malformed pass %d", self._worker.pid, index)
        duration = None if self._started is None or self._ended is None else self._ended - self._started
        return Trace(status=status, error=error, stdout=self._output.text(),
                     stdout_bytes=max(self._output_total, self._output.total), passes=tuple(passes),
                     filename=self.request.filename, duration=duration)

    def _stopped_error(self, reason: str) -> ErrorInfo:
        from gradviz.core.trace import ErrorInfo

        where = f" while running line {self._line}" if self._line is not None else ""
        if self._started is None:
            where = " before the program started"
        if reason == "timeout":
            return ErrorInfo("Timeout", f"the program was stopped after the time limit of {self.timeout:g} s"
                             f"{where}", self._line)
        ran = (self._ended or time.monotonic()) - (self._started or self._requested)
        return ErrorInfo("Cancelled", f"the run was cancelled after {ran:.1f} s{where}", self._line)

    def _crash_error(self, code: int) -> ErrorInfo:
        import re

        from gradviz.core.trace import ErrorInfo

        if self._worker.fatal is not None:
            fatal = self._worker.fatal
            return ErrorInfo("WorkerStartFailed", f"the worker process could not start: {fatal.get('type')}: "
                             f"{fatal.get('message')}" + self._diagnostics_note())
        dump = self._worker.diagnostics(wait=1.0)
        line = self._line
        if self._started is None:
            return ErrorInfo("WorkerCrashed", f"the worker process {_describe_exit(code)} before the program "
                             "started" + self._diagnostics_note(dump))
        if code < 0:
            match = re.search(r'File "' + re.escape(self.request.filename) + r'", line (\d+)', dump)
            if match:
                line = int(match.group(1))
            where = f" at line {line}" if line is not None else ""
            return ErrorInfo("WorkerCrashed", f"the program's process {_describe_exit(code)}{where}"
                             f"{_signal_hint(-code)}; the passes finished before are kept", line)
        if self._exit is not None:
            return ErrorInfo("SystemExit", f"the program ended its process with os._exit({self._exit['code']})"
                             " before it finished; the passes finished before are kept", line)
        hint = ""
        if self.memory_limit is not None and code == 1:
            # the worker's own code failed (the program's errors are reported, not exits): under a memory cap
            # the likeliest cause is the cap ("can't start new thread", a MemoryError)
            last = dump.strip().splitlines()[-1] if dump.strip() else ""
            hint = f" (it may have run out of the {format_bytes(self.memory_limit)} memory limit{': ' if last else ''}{last})"
        return ErrorInfo("WorkerCrashed", f"the program's process {_describe_exit(code)}{hint} before it finished; "
                         "the passes finished before are kept", line)

    def _diagnostics_note(self, dump: str | None = None) -> str:
        text = (self._worker.diagnostics(wait=1.0) if dump is None else dump).strip()
        if not text:
            return ""
        return "\n" + "\n".join(text.splitlines()[-15:])


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name} (signal {-code})"
    return f"exited with code {code}"


def _signal_hint(signum: int) -> str:
    if signum == signal.SIGSEGV:
        return " — a segmentation fault: the program (or a C library it called) read or wrote invalid memory"
    if signum == signal.SIGKILL:
        return " — killed from outside: by the program itself, another process, or the system when out of memory"
    if signum == signal.SIGABRT:
        return " — aborted by a C library (often a failed internal check)"
    return ""


class Runner:
    """Starts runs in worker processes, keeping one warm worker (torch imported, idle) ready for the next."""

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT, memory_limit: int | None = None,
                 warm: bool = True, python: str | None = None) -> None:
        self.timeout = timeout
        self.memory_limit = default_memory_limit() if memory_limit is None else memory_limit
        self.warm = warm
        self._python = python or sys.executable
        self._lock = threading.Condition()
        self._spare: _Worker | None = None
        self._spawn_at: float | None = None  # when the keeper should start the next spare
        self._spawning = False
        self._active: set[RunHandle] = set()
        self._closed = False
        if warm:
            self._spare = _Worker(self._python)
            threading.Thread(target=self._keep_spare, name="gradviz-spare-keeper", daemon=True).start()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ready(self, timeout: float | None = None) -> bool:
        """Wait until the spare worker is warm (torch imported); False if there is none or it is not yet."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._lock.wait_for(lambda: self._closed or self._spare is not None
                                or (self._spawn_at is None and not self._spawning), timeout)
            spare = self._spare
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        return spare is not None and spare.ready.wait(left) and spare.alive()

    def prestart(self) -> None:
        """Start a worker now for the next `start` to take, if none is waiting: a one-shot caller
        (`gradviz render`) lets it import torch while the caller still parses its arguments and loads Qt."""
        with self._lock:
            if self._closed or self._spare is not None:
                return
            self._spare = _Worker(self._python)

    def start(self, request: RunRequest, on_event: EventCallback | None = None) -> RunHandle:
        """Begin running `request` in a worker and return at once."""
        with self._lock:
            if self._closed:
                raise RuntimeError("this Runner is closed")
            worker, self._spare = self._spare, None
        if worker is not None and not worker.alive():
            worker.close()
            worker = None
        if worker is None:
            worker = _Worker(self._python)
        timeout = self.timeout if request.timeout is None else request.timeout
        handle = RunHandle(worker, request, timeout=timeout, memory_limit=self.memory_limit, on_event=on_event,
                           on_finished=self._on_finished)
        with self._lock:
            self._active.add(handle)
        handle._begin()
        # The next worker warms up when this run ends, or while it runs if it is a long one. Not at once:
        # importing torch would compete for the CPU with a short run.
        self._want_spare(SPARE_DELAY)
        return handle

    def run(self, request: RunRequest, on_event: EventCallback | None = None) -> Trace:
        """Run `request` and block until its trace is ready."""
        trace = self.start(request, on_event).wait()
        assert trace is not None
        return trace

    def close(self) -> None:
        """Kill the idle worker and any running ones; their handles report "cancelled"."""
        with self._lock:
            self._closed = True
            spare, self._spare = self._spare, None
            active = list(self._active)
            self._lock.notify_all()
        if spare is not None:
            spare.close()
        for handle in active:
            handle.cancel()
        for handle in active:
            handle.wait(5.0)

    def _on_finished(self, handle: RunHandle) -> None:
        with self._lock:
            self._active.discard(handle)
        self._want_spare(0.0)

    def _want_spare(self, delay: float) -> None:
        """Ask the keeper thread for a new spare worker within `delay` seconds (if this runner keeps one)."""
        with self._lock:
            if not self.warm or self._closed or self._spare is not None:
                return
            at = time.monotonic() + delay
            if self._spawn_at is None or at < self._spawn_at:
                self._spawn_at = at
                self._lock.notify_all()

    def _keep_spare(self) -> None:
        """The keeper thread: spawns spare workers when asked, off the caller's thread."""
        while True:
            with self._lock:
                while not self._closed and (self._spawn_at is None or self._spare is not None
                                            or time.monotonic() < self._spawn_at):
                    if self._spare is not None:
                        self._spawn_at = None
                    wait = None if self._spawn_at is None else self._spawn_at - time.monotonic()
                    self._lock.wait(wait)
                if self._closed:
                    return
                self._spawn_at = None
                self._spawning = True
            worker: _Worker | None = None
            try:
                worker = _Worker(self._python)
            except OSError:
                _log().exception("could not start a spare worker")
            with self._lock:
                self._spawning = False
                if worker is not None and not self._closed and self._spare is None:
                    self._spare, worker = worker, None
                self._lock.notify_all()
            if worker is not None:
                worker.close()

"""The child side of the runner: warm up (torch imported), take one JSON request, run it under capture, report
JSON lines on a dedicated pipe, exit. Started only by `gradviz.core.runner` as `python -m gradviz.core.worker`.

Protocol (one JSON object per line on the channel fd, never on stdout):
  worker -> parent  ready | fatal | started | stdout | line | pass_started | pass_finished | exit | trace
  parent -> worker  one request line on stdin: {"source", "filename", "root", "keep_first", "keep_last",
                    "values_limit", "saved", "memory_limit"}
"""

from __future__ import annotations

import argparse
import builtins
import codecs
import ctypes
import dataclasses
import faulthandler
import gc
import io
import json
import os
import resource
import select
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any, NoReturn

from gradviz.core.jsonio import dumps_line, trace_line
from gradviz.core.runner import OUTPUT_LIMIT, OutputRecord, format_bytes
from gradviz.core.trace import ErrorInfo, Pass, Trace

STREAM_CHUNK = 16 * 1024  # at most this much output per flush once the first OUTPUT_LIMIT bytes were streamed
FLUSH_INTERVAL = 0.05  # seconds between stdout batches
LINE_INTERVAL = 0.1  # seconds between samples of the line the program is running
PASS_STARTED_INTERVAL = 0.05  # at most one pass_started event per this many seconds
NO_INPUT = ("input() is not available: gradviz runs the program without a keyboard. "
            "Put the value in the code instead (e.g. n = 5).")

_real_exit = os._exit


class Channel:
    """JSON lines to the parent on a pipe of our own. One lock orders everything written, output included."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.lock = threading.RLock()
        self.open = True

    def send(self, message: dict[str, Any]) -> None:
        if not self.open:
            return
        data = dumps_line(message)
        with self.lock:
            self._write(data)

    def send_pieces(self, pieces: Iterable[bytes], chunk: int = 1 << 20) -> None:
        """One message given in pieces (`jsonio.trace_line`), written about `chunk` bytes at a time as they are
        encoded: a big trace never sits whole in memory as dicts or as text."""
        if not self.open:
            return
        with self.lock:
            buffer: list[bytes] = []
            size = 0
            for piece in pieces:
                buffer.append(piece)
                size += len(piece)
                if size >= chunk:
                    self._write(b"".join(buffer))
                    buffer, size = [], 0
            self._write(b"".join(buffer))

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.fd, view):]
        except OSError:
            _real_exit(70)  # the parent is gone (or the program closed our pipe): nobody to report to

    def detach(self) -> None:
        """In a process forked by the program: this pipe belongs to the worker, let go of it."""
        self.open = False
        self.lock = threading.RLock()
        try:
            os.close(self.fd)
        except OSError:
            pass


class Output:
    """Everything the program prints (Python-level and fd 1/2): kept as first/last OUTPUT_LIMIT bytes, and
    streamed as `stdout` events in batches; past the first OUTPUT_LIMIT bytes a batch keeps only its end."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.record = OutputRecord()
        self._head = bytearray()  # within the first OUTPUT_LIMIT bytes: always streamed in full
        self._head_queued = 0
        self._tail = bytearray()
        self._skipped = 0
        self._last_flush = 0.0
        self.forked = False
        self.pump: FdPump | None = None

    def reset(self) -> None:
        with self.channel.lock:
            self.record = OutputRecord()
            self._head.clear()
            self._tail.clear()
            self._head_queued = self._skipped = 0

    def write(self, text: str) -> None:
        """Record and queue `text`, after whatever is already waiting in the fd 1/2 pipe (keeps the order of
        `os.write(1, ...)` followed by `print(...)`)."""
        if not text:
            return
        if self.forked:
            os.write(1, text.encode("utf-8", "replace"))  # a child the program forked: the worker's pump reads it
            return
        with self.channel.lock:
            if self.pump is not None:
                self.take(self.pump.read_available())
            self.take(text)

    def take(self, text: str) -> None:
        """Record and queue `text` now (caller holds channel.lock)."""
        if not text:
            return
        data = text.encode("utf-8", "replace")
        self.record.add(data)
        room = _char_boundary(data, max(0, OUTPUT_LIMIT - self._head_queued), back=True)
        self._head += data[:room]
        self._head_queued += room
        self._tail += data[room:]
        if len(self._tail) > STREAM_CHUNK:
            cut = _char_boundary(self._tail, len(self._tail) - STREAM_CHUNK, back=False)
            newline = self._tail.find(b"\n", cut, cut + 4096)
            cut = newline + 1 if newline >= 0 else cut  # resume at a line start when one is near
            self._skipped += cut
            del self._tail[:cut]
        if time.monotonic() - self._last_flush >= FLUSH_INTERVAL:
            self.flush()

    def flush(self) -> None:
        """Send what is pending (callers hold channel.lock or accept any order)."""
        with self.channel.lock:
            self._last_flush = time.monotonic()
            if self._head:
                self._send(bytes(self._head), 0)
                self._head.clear()
            if self._tail or self._skipped:
                self._send(bytes(self._tail), self._skipped)
                self._tail.clear()
                self._skipped = 0

    def _send(self, data: bytes, skipped: int) -> None:
        message: dict[str, Any] = {"event": "stdout", "text": data.decode("utf-8", "replace"),
                                   "total": self.record.total}
        if skipped:
            message["skipped"] = skipped
        self.channel.send(message)


def _char_boundary(data: bytes | bytearray, i: int, *, back: bool) -> int:
    """Move index `i` off the middle of a UTF-8 character (backwards or forwards)."""
    step = -1 if back else 1
    while 0 < i < len(data) and (data[i] & 0xC0) == 0x80:
        i += step
    return min(i, len(data))


class Session:
    """One run inside the worker: forwards capture events in order with the output, samples the running line."""

    def __init__(self, channel: Channel, output: Output, filename: str) -> None:
        self.channel = channel
        self.output = output
        self.filename = filename
        self.passes: dict[int, dict[str, Any]] = {}
        self._stop = threading.Event()
        self._main = threading.get_ident()  # sessions are made on the main thread, which runs the program
        self._last_started = -PASS_STARTED_INTERVAL

    def emit(self, message: dict[str, Any]) -> None:
        """Send an event after any output printed before it."""
        with self.channel.lock:
            self.output.flush()
            self.channel.send(message)

    def on_capture_event(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "stdout":
            self.output.write(event.get("text", ""))
            return
        if kind == "pass_finished":
            self.passes[event["index"]] = event["pass"]
        elif kind == "pass_started":
            # Only for the window's "backward pass N" notice: a training loop starts thousands a second, and
            # each event cost ~60 us here. Every pass_finished is still sent (the runner keeps them).
            now = time.monotonic()
            if now - self._last_started < PASS_STARTED_INTERVAL:
                return
            self._last_started = now
        self.emit(event)

    def user_line(self, frame: FrameType | None) -> int | None:
        """The innermost line of the user's file in this stack."""
        while frame is not None:
            if frame.f_code.co_filename == self.filename:
                return frame.f_lineno
            frame = frame.f_back
        return None

    def start_sampling(self) -> None:
        threading.Thread(target=self._sample, name="gradviz-line", daemon=True).start()

    def stop_sampling(self) -> None:
        self._stop.set()

    def _sample(self) -> None:
        last = None
        while not self._stop.is_set():
            try:
                frame = sys._current_frames().get(self._main)
                line = self.user_line(frame)
                del frame
                if line is not None and line != last:
                    last = line
                    self.emit({"event": "line", "line": line})
            except MemoryError:
                pass  # the program is exhausting its memory cap: try again at the next tick
            self._stop.wait(LINE_INTERVAL)


class FdPump:
    """Points fds 1 and 2 at a pipe, so C-level writes become output instead of protocol noise. A thread
    collects what arrives; Python-level writes collect it first, under the same lock, to keep the order."""

    def __init__(self, output: Output) -> None:
        self.output = output
        read_end, write_end = os.pipe()
        os.dup2(write_end, 1)
        os.dup2(write_end, 2)
        os.close(write_end)
        os.set_blocking(read_end, False)
        self._read_end = read_end
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._ready = select.poll()  # a cheap "anything there?" before each Python-level write
        self._ready.register(read_end, select.POLLIN)
        self.closed = False
        output.pump = self
        self._thread = threading.Thread(target=self._pump, name="gradviz-fd-pump", daemon=True)
        self._thread.start()

    def read_available(self) -> str:
        """Everything in the pipe right now, decoded (caller holds channel.lock)."""
        if self.closed or not self._ready.poll(0):
            return ""
        parts = []
        while not self.closed:
            try:
                data = os.read(self._read_end, 65536)
            except BlockingIOError:
                break
            except OSError:
                data = b""
            if not data:
                self.closed = True
                parts.append(self._decoder.decode(b"", final=True))
                break
            parts.append(self._decoder.decode(data))
        return "".join(parts)

    def _pump(self) -> None:
        waiting = select.poll()  # its own: a poll object must not be polled from two threads at once
        waiting.register(self._read_end, select.POLLIN)
        while not self.closed:
            try:
                waiting.poll()
                with self.output.channel.lock:
                    self.output.take(self.read_available())
            except MemoryError:
                time.sleep(0.01)
            except (OSError, ValueError):
                break

    def drain(self, timeout: float) -> None:
        """Flush C and Python buffers, close fds 1/2 and collect what was left in the pipe."""
        for stream in (sys.__stdout__, sys.__stderr__):
            try:
                if stream is not None:
                    stream.flush()
            except (OSError, ValueError):
                pass
        try:
            ctypes.CDLL(None).fflush(None)
        except (OSError, AttributeError):
            pass
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.close(devnull)
        self._thread.join(timeout)
        with self.output.channel.lock:  # still open if a child of the program holds the pipe
            self.output.take(self.read_available())


class NoInput(io.TextIOBase):
    """sys.stdin of the program: reading explains at once why there is no input, instead of hanging."""

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        raise EOFError(NO_INPUT)

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        raise EOFError(NO_INPUT)


def _no_input(prompt: object = "") -> str:
    if prompt:
        print(prompt, end="")  # show the question the program asked, as a console would
    raise EOFError(NO_INPUT)


def _vsz() -> int:
    """This process's virtual memory size in bytes (what RLIMIT_AS caps): /proc on Linux, else psutil."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import psutil

        return int(psutil.Process().memory_info().vms)


def limit_memory(budget: int | None) -> Callable[[], None]:
    """Cap the address space at what is mapped now (torch's own large mappings) plus `budget` bytes; return
    a function lifting the cap again."""
    if budget is None or not hasattr(resource, "RLIMIT_AS"):
        return lambda: None
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _vsz() + budget
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ValueError, OSError) as e:  # some systems (macOS) refuse an address-space cap
        print(f"gradviz worker: no memory cap: {e}", file=sys.stderr)
        return lambda: None
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _watch_parent(parent: int) -> None:
    """Die with the parent (GUI killed, CLI interrupted): take the program's own children along."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        try:
            os.killpg(0, 9)
        finally:
            _real_exit(1)

    threading.Thread(target=watch, name="gradviz-parent-watch", daemon=True).start()


def _flusher(output: Output) -> None:
    while True:
        time.sleep(FLUSH_INTERVAL)
        try:
            output.flush()
        except MemoryError:
            pass


def _warm_up() -> None:
    import torch

    if not os.path.exists("/proc/self/statm"):
        import psutil  # noqa: F401 - `_vsz` needs it here: import it while warming, not in the run

    import gradviz.core.capture  # noqa: F401

    x = torch.ones(2, requires_grad=True)
    (x * x).sum().backward()
    # The first optimizer imports torch._dynamo (about 2 s here): pay it while idle, not in the user's run.
    # One-shot runs (`gradviz render`) set GRADVIZ_WARM_OPTIMIZER=0: nobody waits idle for them.
    if os.environ.get("GRADVIZ_WARM_OPTIMIZER", "1") != "0":
        torch.optim.SGD([x], lr=0.1).step()
        torch.nn.Linear(2, 1)(x).sum().backward()


def _program_folder(filename: str) -> str:
    folder = os.path.dirname(os.path.abspath(filename)) if os.path.isabs(filename) else ""
    return folder if folder and os.path.isdir(folder) else tempfile.gettempdir()


def _run(request: dict[str, Any], channel: Channel, output: Output, pump: FdPump) -> NoReturn:
    from gradviz.core.capture import CaptureOptions, run_program

    filename = request["filename"]
    folder = _program_folder(filename)
    os.chdir(folder)
    sys.path[0] = folder
    sys.argv = [filename]
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdin = NoInput()
    builtins.input = _no_input

    output.reset()
    session = Session(channel, output, filename)

    def exit_now(status: int) -> NoReturn:
        if channel.open and isinstance(status, int):
            session.emit({"event": "exit", "code": status, "line": session.user_line(sys._getframe(1))})
            pump.drain(0.2)
            output.flush()
        _real_exit(status)

    os._exit = exit_now
    _announce_line_before(session, os, "kill")
    _announce_line_before(session, os, "killpg")
    _announce_line_before(session, signal, "raise_signal")
    os.register_at_fork(after_in_child=lambda: _forked(channel, output))

    budget = request.get("memory_limit")
    lift = limit_memory(budget)
    session.emit({"event": "started", "pid": os.getpid()})
    session.start_sampling()
    try:
        trace = run_program(request["source"], filename, root=request.get("root"),
                            options=CaptureOptions(keep_first=int(request.get("keep_first", 10)),
                                                   keep_last=bool(request.get("keep_last", True)),
                                                   values_limit=int(request.get("values_limit", 1024)),
                                                   saved=bool(request.get("saved", True))),
                            on_event=session.on_capture_event)
    except BaseException as e:  # noqa: BLE001 - a capture failure still becomes a trace
        lift()
        traceback.print_exc()
        passes = tuple(Pass.from_dict(session.passes[i]) for i in sorted(session.passes))
        trace = Trace(status="error", error=ErrorInfo(type(e).__name__, f"gradviz failed while running the "
                                                      f"program: {e}"), passes=passes, filename=filename)
    finally:
        lift()
        session.stop_sampling()
    pump.drain(0.5)
    output.flush()
    trace = dataclasses.replace(trace, stdout=output.record.text(), stdout_bytes=output.record.total)
    if trace.error is not None and trace.error.type == "MemoryError" and budget is not None:
        message = f"{trace.error.message} (a run may use {format_bytes(budget)} of memory)"
        trace = dataclasses.replace(trace, error=dataclasses.replace(trace.error, message=message))
    channel.send_pieces(trace_line(trace, {"event": "trace"}))
    _real_exit(0)


def _announce_line_before(session: Session, module: Any, name: str) -> None:
    """Wrap a signal-sending function so the parent learns the calling line first: if the signal kills
    this process, the line sampler may not have seen that line yet."""
    original = getattr(module, name)

    def wrapper(*args: Any) -> Any:
        line = session.user_line(sys._getframe(1)) if session.channel.open else None
        if line is not None:
            session.emit({"event": "line", "line": line})
        return original(*args)

    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    setattr(module, name, wrapper)


def _forked(channel: Channel, output: Output) -> None:
    """In a child forked by the program (multiprocessing, DataLoader workers): print to fd 1, report nothing."""
    channel.detach()
    output.forked = True
    os._exit = _real_exit


def main(argv: list[str] | None = None) -> NoReturn:
    parser = argparse.ArgumentParser(prog="python -m gradviz.core.worker")
    parser.add_argument("--channel", type=int, required=True, help="fd of the pipe to the parent")
    args = parser.parse_args(argv)
    os.set_inheritable(args.channel, False)
    channel = Channel(args.channel)
    diagnostics = os.dup(2)  # the parent's stderr pipe: crash dumps and the worker's own failures
    faulthandler.enable(file=diagnostics, all_threads=False)
    output = Output(channel)
    pump = FdPump(output)
    sys.stderr = io.TextIOWrapper(io.FileIO(diagnostics, "w", closefd=False), encoding="utf-8",
                                  errors="replace", line_buffering=True)
    _watch_parent(os.getppid())
    threading.Thread(target=_flusher, args=(output,), name="gradviz-flush", daemon=True).start()
    try:
        _warm_up()
    except BaseException as e:  # noqa: BLE001 - reported to the parent, then exit
        traceback.print_exc()
        channel.send({"event": "fatal", "type": type(e).__name__, "message": str(e)})
        _real_exit(3)
    # Everything imported so far (torch: about a million objects) lives until the worker exits: keep it out
    # of the garbage collector's full passes, which otherwise walk it during the user's run (0.2 s each).
    gc.freeze()
    channel.send({"event": "ready", "pid": os.getpid(), "vsz": _vsz()})
    line = sys.stdin.buffer.readline()
    if not line:
        _real_exit(0)
    _run(json.loads(line), channel, output, pump)


if __name__ == "__main__":
    main()

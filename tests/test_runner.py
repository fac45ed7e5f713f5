"""The runner: user code in a warm worker process; timeouts, cancel, memory cap, crashes, output floods,
input(), working directory, live events — and a good run right after every bad one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import torch

from gradviz.core.runner import OUTPUT_LIMIT, OutputRecord, Runner, RunRequest, _worker_env
from gradviz.core.trace import Trace

SEED = """\
import torch
x = torch.arange(4.0, requires_grad=True)
y = 2 * torch.dot(x, x)
y.backward()
print("grad", x.grad)
"""

# One backward pass, then a loop that never ends (line 5).
STUCK = """\
import torch
x = torch.ones(3, requires_grad=True)
(x * 2).sum().backward()
i = 0
while True:
    i += 1
"""


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    with Runner(timeout=20.0) as r:
        yield r


def _program(tmp_path: Path, source: str, name: str = "prog.py") -> RunRequest:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return RunRequest(path.read_text(encoding="utf-8"), str(path))


def _seed_grad() -> list[float]:
    x = torch.arange(4.0, requires_grad=True)
    y = 2 * torch.dot(x, x)
    y.backward()
    assert x.grad is not None
    return x.grad.tolist()


def _assert_good_run(runner: Runner, tmp_path: Path) -> None:
    """The runner is healthy: the seed example traces with PyTorch's own gradient."""
    trace = runner.run(_program(tmp_path, SEED, "seed.py"))
    assert trace.status == "ok", trace.error
    assert trace.final_grads["x"].values == pytest.approx(_seed_grad())
    assert [p.line for p in trace.passes] == [4]
    assert trace.stdout.startswith("grad tensor(")


def test_good_run_with_live_events(runner: Runner, tmp_path: Path) -> None:
    events: list[dict] = []
    trace = runner.run(_program(tmp_path, SEED), on_event=events.append)
    assert trace.status == "ok" and trace.error is None
    assert trace.final_grads["x"].values == pytest.approx(_seed_grad())
    kinds = [e["event"] for e in events]
    assert kinds[0] == "started" and kinds[-1] == "finished" and events[-1]["status"] == "ok"
    assert kinds.index("pass_started") < kinds.index("pass_finished") < kinds.index("stdout")
    assert "".join(e["text"] for e in events if e["event"] == "stdout") == trace.stdout


def test_a_training_loop_sends_every_pass_finished_and_a_few_pass_started(runner: Runner, tmp_path: Path) -> None:
    """pass_started only feeds the window's notice and is thinned out to a few a second; every pass_finished
    still arrives (the runner keeps them for a run that dies part-way)."""
    loop = ("import torch\nw = torch.ones(3, requires_grad=True)\nfor i in range(400):\n"
            "    (w * w).sum().backward()\n")
    events: list[dict] = []
    trace = runner.run(_program(tmp_path, loop, "loop.py"), on_event=events.append)
    assert trace.status == "ok" and len(trace.passes) == 400
    finished = [e["index"] for e in events if e["event"] == "pass_finished"]
    started = [e["index"] for e in events if e["event"] == "pass_started"]
    assert finished == list(range(400))
    assert started[0] == 0 and len(started) < 400 and started == sorted(started)


def test_infinite_loop_times_out_at_its_line(runner: Runner, tmp_path: Path) -> None:
    request = _program(tmp_path, STUCK)
    started = time.monotonic()
    trace = runner.run(RunRequest(request.source, request.filename, timeout=1.5))
    assert time.monotonic() - started < 15
    assert trace.status == "timeout"
    assert trace.error is not None and trace.error.type == "Timeout" and trace.error.line == 5
    assert "line 5" in trace.error.message
    assert [p.line for p in trace.passes] == [3]  # the pass finished before the loop is kept
    _assert_good_run(runner, tmp_path)


def test_cancel_mid_run(runner: Runner, tmp_path: Path) -> None:
    in_loop = threading.Event()
    handle = runner.start(_program(tmp_path, STUCK),
                          on_event=lambda e: e == {"event": "line", "line": 5} and in_loop.set())
    assert in_loop.wait(30)
    assert not handle.done
    handle.cancel()
    trace = handle.wait(10)
    assert trace is not None and handle.done
    assert trace.status == "cancelled"
    assert trace.error is not None and trace.error.type == "Cancelled" and trace.error.line == 5
    assert len(trace.passes) == 1
    assert not psutil.pid_exists(handle.pid) or psutil.Process(handle.pid).status() == psutil.STATUS_ZOMBIE
    _assert_good_run(runner, tmp_path)


def test_pass_events_arrive_before_the_run_ends(runner: Runner, tmp_path: Path) -> None:
    flag = tmp_path / "go-on"
    passed = threading.Event()
    request = _program(tmp_path, f"""\
        import os, time
        import torch
        x = torch.ones(2, requires_grad=True)
        (x * x).sum().backward()
        while not os.path.exists({str(flag)!r}):
            time.sleep(0.01)
        """)
    handle = runner.start(request, on_event=lambda e: e["event"] == "pass_finished" and passed.set())
    assert passed.wait(30)
    assert not handle.done  # the program is still waiting for the flag
    flag.write_text("")
    trace = handle.wait(30)
    assert trace is not None and trace.status == "ok"
    assert [p.line for p in trace.passes] == [4]


@pytest.mark.parametrize("source, line", [
    ("import torch\nfirst = 1\nbig = torch.empty(40 * 2**30 // 4)\n", 3),
    ("first = 1\nbig = [0] * (2**31)\n", 2),
])
def test_memory_bomb_is_an_out_of_memory_error(runner: Runner, tmp_path: Path, source: str, line: int) -> None:
    trace = runner.run(_program(tmp_path, source))
    assert trace.status == "error"
    assert trace.error is not None and trace.error.type == "MemoryError" and trace.error.line == line
    assert "out of memory" in trace.error.message
    _assert_good_run(runner, tmp_path)


def test_memory_limit_is_configurable(tmp_path: Path) -> None:
    request = _program(tmp_path, """\
        chunks = []
        while True:
            chunks.append(bytearray(2**20))
        """)
    with Runner(memory_limit=300 * 2**20, warm=False, timeout=20) as small:
        trace = small.run(request)
        assert trace.status == "error"
        assert trace.error is not None and trace.error.type == "MemoryError" and trace.error.line == 3
        assert "300 MiB" in trace.error.message
        _assert_good_run(small, tmp_path)


def test_a_limit_too_small_for_the_worker_itself_is_named(tmp_path: Path) -> None:
    """With 1 KiB the worker's own machinery fails (it cannot start a thread): the error says the limit is
    the likely cause instead of a bare "exited with code 1"."""
    request = _program(tmp_path, "x = 1\n")
    with Runner(memory_limit=1024, warm=False, timeout=20) as tiny:
        trace = tiny.run(request)
    assert trace.status == "error" and trace.error is not None
    assert "1 KiB" in trace.error.message  # the limit is named, whichever allocation failed first


def test_sys_exit_code(runner: Runner, tmp_path: Path) -> None:
    trace = runner.run(_program(tmp_path, "import sys\nprint('bye')\nsys.exit(3)\n"))
    assert trace.status == "error" and trace.stdout == "bye\n"
    assert trace.error is not None and trace.error.type == "SystemExit" and trace.error.line == 3
    assert "3" in trace.error.message
    _assert_good_run(runner, tmp_path)


def test_os_exit_code(runner: Runner, tmp_path: Path) -> None:
    trace = runner.run(_program(tmp_path, "import os\nprint('bye')\nos._exit(4)\n"))
    assert trace.status == "error"
    assert trace.error is not None and trace.error.type == "SystemExit" and trace.error.line == 3
    assert "os._exit(4)" in trace.error.message
    assert trace.stdout == "bye\n"  # printed before the exit, not lost with the process
    _assert_good_run(runner, tmp_path)


def test_segfault(runner: Runner, tmp_path: Path) -> None:
    trace = runner.run(_program(tmp_path, "import ctypes\nprint('before')\nctypes.string_at(0)\n"))
    assert trace.status == "error"
    assert trace.error is not None and trace.error.type == "WorkerCrashed" and trace.error.line == 3
    assert "SIGSEGV" in trace.error.message
    _assert_good_run(runner, tmp_path)


def test_sigkill(runner: Runner, tmp_path: Path) -> None:
    trace = runner.run(_program(tmp_path, """\
        import os
        import torch
        x = torch.ones(2, requires_grad=True)
        (x * 3).sum().backward()
        os.kill(os.getpid(), 9)
        """))
    assert trace.status == "error"
    assert trace.error is not None and trace.error.type == "WorkerCrashed" and trace.error.line == 5
    assert "SIGKILL" in trace.error.message
    assert [p.line for p in trace.passes] == [4]
    _assert_good_run(runner, tmp_path)


def test_output_flood_is_bounded_and_parent_memory_stays_flat(runner: Runner, tmp_path: Path) -> None:
    request = _program(tmp_path, """\
        import os, sys
        line = "x" * 1023 + "\\n"
        for i in range(50 * 1024):
            sys.stdout.write(line)
        os.write(1, b"from fd 1\\n")
        print("end")
        """)
    chunks: list[int] = []
    me = psutil.Process()
    before = me.memory_info().rss
    trace = runner.run(RunRequest(request.source, request.filename, timeout=60),
                       on_event=lambda e: e["event"] == "stdout" and chunks.append(len(e["text"])))
    growth = me.memory_info().rss - before
    assert trace.status == "ok", trace.error
    assert trace.stdout_bytes == 50 * 2**20 + len("from fd 1\n") + len("end\n")
    assert growth < 10 * 2**20, f"parent grew by {growth / 2**20:.1f} MiB"
    assert len(trace.stdout.encode()) < 2 * OUTPUT_LIMIT + 200
    assert trace.stdout.startswith("x" * 1023 + "\n") and trace.stdout.endswith("from fd 1\nend\n")
    assert "bytes of output not kept" in trace.stdout
    assert len(chunks) < 1000 and sum(chunks) < 10 * 2**20  # batched and bounded on the way too
    _assert_good_run(runner, tmp_path)


def test_input_fails_at_once_with_an_explanation(runner: Runner, tmp_path: Path) -> None:
    trace = runner.run(_program(tmp_path, "print('asking')\nn = int(input('n? '))\n"))
    assert trace.status == "error"
    assert trace.error is not None and trace.error.type == "EOFError" and trace.error.line == 2
    assert "input()" in trace.error.message and "keyboard" in trace.error.message
    _assert_good_run(runner, tmp_path)


def test_working_directory_is_the_programs_folder(runner: Runner, tmp_path: Path) -> None:
    folder = tmp_path / "lesson"
    folder.mkdir()
    (folder / "data.txt").write_text("3.5\n")
    (folder / "helper.py").write_text("SCALE = 2\n")
    trace = runner.run(_program(folder, """\
        import os
        import helper
        print(os.getcwd())
        print(float(open("data.txt").read()) * helper.SCALE)
        """))
    assert trace.status == "ok", trace.error
    assert trace.stdout.splitlines() == [str(folder), "7.0"]


def test_runner_parent_does_not_import_torch(tmp_path: Path) -> None:
    request = _program(tmp_path, SEED)
    script = textwrap.dedent(f"""\
        import sys
        from gradviz.core.runner import Runner, RunRequest
        with Runner(warm=False) as r:
            trace = r.run(RunRequest({request.source!r}, {request.filename!r}))
        print(trace.status, "torch" in sys.modules)
        """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["ok", "False"], out.stderr


def test_close_kills_the_warm_worker() -> None:
    r = Runner()
    assert r.ready(120)
    spare = r._spare
    assert spare is not None and psutil.pid_exists(spare.pid)
    r.close()
    assert spare.proc.returncode is not None
    with pytest.raises(RuntimeError):
        r.start(RunRequest("x = 1\n", "prog.py"))


def test_prestarted_worker_serves_the_next_run(tmp_path: Path) -> None:
    with Runner(warm=False) as r:
        r.prestart()
        spare = r._spare
        assert spare is not None
        r.prestart()  # one is already waiting: no second worker
        assert r._spare is spare
        handle = r.start(_program(tmp_path, SEED))
        assert handle.pid == spare.pid
        trace = handle.wait(120)
        assert trace is not None and trace.status == "ok", trace and trace.error
        assert trace.final_grads["x"].values == pytest.approx(_seed_grad())
        assert r._spare is None  # not a warm runner: nothing spawned for a next run


def test_runner_module_spawns_without_the_heavy_imports() -> None:
    """`gradviz render` spawns its worker right after importing the runner: JSON, logging and the trace
    classes load after that, not before."""
    script = textwrap.dedent("""\
        import sys
        import gradviz.cli, gradviz.render, gradviz.core.runner
        heavy = ("argparse", "json", "logging", "gradviz.core.trace", "gradviz.core.jsonio", "PySide6")
        print(" ".join(m for m in heavy if m in sys.modules) or "none")
        """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["none"], out.stderr


def test_worker_reads_its_address_space_size_as_psutil_does() -> None:
    """The memory cap is set above the worker's own mappings, read from /proc on Linux (psutil elsewhere)."""
    from gradviz.core.worker import _vsz

    before = psutil.Process().memory_info().vms
    size = _vsz()
    after = psutil.Process().memory_info().vms
    assert min(before, after) - 2**20 <= size <= max(before, after) + 2**20


def test_cli_trace_times_out_with_the_loop_line(tmp_path: Path) -> None:
    program = tmp_path / "stuck.py"
    program.write_text(STUCK, encoding="utf-8")
    out = tmp_path / "trace.json"
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "gradviz.cli", "trace", str(program), "--timeout", "3",
                           "-o", str(out)], capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    # Within 6 s on an idle machine (cold worker start ~2 s + the 3 s limit); a machine busy with other work
    # stretches the torch import, so the bound scales with the load per core.
    load = max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
    assert elapsed < 6 * load, f"took {elapsed:.1f} s at load {load:.1f} per core"
    trace = Trace.from_json(out.read_text(encoding="utf-8"))
    assert trace.status == "timeout"
    assert trace.error is not None and trace.error.line == 5 and "line 5" in trace.error.message
    assert "timeout" in done.stderr


def test_output_record_keeps_head_and_tail() -> None:
    record = OutputRecord(limit=8)
    for piece in ("abc", "defgh", "ijklmnop", "qrstuvwxyz"):
        record.add(piece.encode())
    assert record.total == 26
    assert record.text() == "abcdefgh\n[... 10 bytes of output not kept ...]\nstuvwxyz"
    small = OutputRecord(limit=8)
    small.add("héllo".encode())
    assert small.text() == "héllo" and small.total == 6
    gap = OutputRecord(limit=4)
    gap.add(b"abcd")
    gap.skip(100)
    gap.add(b"xy")
    assert gap.total == 106 and gap.text() == "abcd\n[... 100 bytes of output not kept ...]\nxy"


def test_request_and_events_are_json(runner: Runner, tmp_path: Path) -> None:
    events: list[dict] = []
    trace = runner.run(_program(tmp_path, "print('ünïcode \\udcff')\nimport sys\nsys.stderr.write('err\\n')\n"),
                       on_event=events.append)
    assert trace.status == "ok"
    assert trace.stdout == "ünïcode ?\nerr\n"
    for e in events:
        json.dumps(e)


def test_worker_environment(runner: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setenv("MKL_NUM_THREADS", "2")
    env = _worker_env()
    assert env["OMP_NUM_THREADS"] == "1" and env["MKL_NUM_THREADS"] == "2"  # the caller's choice wins
    assert env["PYTHONUNBUFFERED"] == "1" and env["PYTHONIOENCODING"] == "utf-8"
    # The warm worker may have started before this test changed the environment: check what every worker
    # gets regardless (torch's thread count also depends on MKL_NUM_THREADS, which the caller may set).
    trace = runner.run(_program(tmp_path, "import os, sys\nprint(os.environ['OMP_NUM_THREADS'], "
                                          "sys.flags.utf8_mode, os.environ['PYTHONUNBUFFERED'])\n"))
    assert trace.stdout.split() == ["1", "1", "1"]


def test_each_run_gets_a_fresh_process(runner: Runner, tmp_path: Path) -> None:
    leak = "import builtins, torch\nbuiltins.LEAKED = True\ntorch.set_default_dtype(torch.float64)\n"
    check = "import builtins, os, torch\nprint(hasattr(builtins, 'LEAKED'), torch.get_default_dtype(), os.getpid())\n"
    first = runner.start(_program(tmp_path, leak))
    first_trace = first.wait(60)
    assert first_trace is not None and first_trace.status == "ok"
    second = runner.start(_program(tmp_path, check))
    trace = second.wait(60)
    assert trace is not None and trace.status == "ok"
    assert trace.stdout.split() == ["False", "torch.float32", str(second.pid)]
    assert second.pid != first.pid


def test_forked_children_print_into_the_output(runner: Runner, tmp_path: Path) -> None:
    trace = runner.run(_program(tmp_path, """\
        import os
        pid = os.fork()
        if pid == 0:
            print("from the child")
            os._exit(0)
        os.waitpid(pid, 0)
        print("from the parent")
        """))
    assert trace.status == "ok", trace.error
    assert trace.stdout == "from the child\nfrom the parent\n"

"""The worker's JSON: a trace encoded in pieces is byte for byte the line encoded whole, whatever its text holds,
and reaches the other end of a pipe intact."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest

from gradviz.core import jsonio
from gradviz.core.capture import CaptureOptions, run_program
from gradviz.core.trace import Trace
from gradviz.core.worker import Channel

CHAIN = """\
import torch
x = torch.ones(3, requires_grad=True)
y = x
for _ in range(700):
    y = y * 1.001
print('"passes":[] "nodes":[] text that looks like the lists being filled in')
y.sum().backward()
z = torch.sqrt(torch.tensor([-1.0, 4.0], requires_grad=True))
z.sum().backward()
"""


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Trace:
    trace = run_program(CHAIN, str(tmp_path_factory.mktemp("jsonio") / "chain.py"), options=CaptureOptions())
    assert trace.status == "ok", trace.error
    assert len(trace.passes[0].nodes) > 2 * jsonio.PIECE and len(trace.passes[0].steps) > 2 * jsonio.PIECE
    return trace


def _whole(trace: Trace) -> bytes:
    return jsonio.dumps_line({"event": "trace", "trace": trace.to_dict()})


def test_pieces_make_the_same_line(chain: Trace) -> None:
    pieces = list(jsonio.trace_line(chain, {"event": "trace"}))
    assert len(pieces) > 10
    assert b"".join(pieces) == _whole(chain)
    assert b"\n" not in b"".join(pieces)[:-1]
    message = jsonio.loads(b"".join(pieces))
    assert Trace.from_dict(message["trace"]) == Trace.from_dict(chain.to_dict())
    bare = b"".join(jsonio.trace_line(chain))
    assert bare == jsonio.dumps_line(chain.to_dict())
    assert Trace.from_json(bare.decode()) == Trace.from_dict(chain.to_dict())


def test_empty_and_summary_passes(chain: Trace, tmp_path: Any) -> None:
    empty = Trace(status="ok", stdout="nothing ran")
    assert b"".join(jsonio.trace_line(empty, {"event": "trace"})) == _whole(empty)
    loop = run_program("import torch\nw = torch.ones(2, requires_grad=True)\nfor _ in range(4):\n"
                       "    (w * 2).sum().backward()\n", str(tmp_path / "loop.py"),
                       options=CaptureOptions(keep_first=1))
    assert [p.detail for p in loop.passes] == ["full", "summary", "summary", "full"]
    assert b"".join(jsonio.trace_line(loop, {"event": "trace"})) == _whole(loop)


def test_text_orjson_refuses_falls_back_to_the_standard_library(chain: Trace) -> None:
    odd = Trace(status="ok", stdout="lone surrogate \ud800 here", passes=chain.passes[:1])
    line = b"".join(jsonio.trace_line(odd, {"event": "trace"}))
    assert jsonio.loads(line)["trace"] == odd.to_dict()


def test_channel_writes_the_pieces_through_a_pipe(chain: Trace) -> None:
    read, write = os.pipe()
    received: list[bytes] = []

    def drain() -> None:
        with os.fdopen(read, "rb") as f:
            received.append(f.read())

    reader = threading.Thread(target=drain)
    reader.start()
    channel = Channel(write)
    channel.send_pieces(jsonio.trace_line(chain, {"event": "trace"}), chunk=4096)
    channel.send({"event": "after"})
    os.close(write)
    reader.join(timeout=30)
    first, second, rest = received[0].split(b"\n")
    assert first + b"\n" == _whole(chain)
    assert jsonio.loads(second) == {"event": "after"} and rest == b""

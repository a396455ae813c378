"""The line relay: name in front, bytes kept, long lines cut, last line kept."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from _common.output import MAX_LINE, LineRelay


@pytest.fixture
def pipe(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """A file standing in for wingmate's stdout: (read fd, write fd)."""
    path = tmp_path / "out"
    write_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    read_fd = os.open(path, os.O_RDONLY)
    yield read_fd, write_fd
    os.close(read_fd)
    os.close(write_fd)


def drain(fd: int) -> bytes:
    """What was written since the last drain."""
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def test_each_line_gets_the_name_in_front(pipe: tuple[int, int]) -> None:
    """Lines split across reads come out whole, each with the name."""
    relay = LineRelay("web", "stdout", pipe[1])
    relay.feed(b"one\ntw")
    relay.feed(b"o\nthree\n")
    assert drain(pipe[0]) == b"web: one\nweb: two\nweb: three\n"


def test_bytes_pass_through_unchanged(pipe: tuple[int, int]) -> None:
    """Bytes that are not UTF-8 are relayed as they are."""
    relay = LineRelay("bin", "stdout", pipe[1])
    relay.feed(b"\xff\xfe\x00\x80\n")
    assert drain(pipe[0]) == b"bin: \xff\xfe\x00\x80\n"


def test_last_line_without_newline_is_written_on_close(pipe: tuple[int, int]) -> None:
    """A partial last line is written, with a newline, when the pipe closes."""
    relay = LineRelay("job", "stderr", pipe[1])
    relay.feed(b"partial")
    assert drain(pipe[0]) == b""
    relay.close()
    assert drain(pipe[0]) == b"job: partial\n"


def test_overlong_line_is_cut_not_dropped(pipe: tuple[int, int]) -> None:
    """A line longer than MAX_LINE comes out in tagged pieces, nothing lost."""
    relay = LineRelay("big", "stdout", pipe[1])
    relay.feed(b"y" * (MAX_LINE + 10))
    relay.close()
    pieces = drain(pipe[0]).split(b"\n")[:-1]
    assert [len(piece) for piece in pieces] == [
        len("big: ") + MAX_LINE,
        len("big: ") + 10,
    ]


def test_json_mode_writes_one_object_per_line(pipe: tuple[int, int]) -> None:
    """With JSON logs, each output line is a JSON object naming service and stream."""
    relay = LineRelay("api", "stderr", pipe[1], is_json=True)
    relay.feed(b"hello\n\xffbad\n")
    records = [json.loads(line) for line in drain(pipe[0]).splitlines()]
    assert [record["message"] for record in records] == ["hello", "\\xffbad"]
    assert {record["service"] for record in records} == {"api"}
    assert {record["stream"] for record in records} == {"stderr"}

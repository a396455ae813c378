"""Service output reaches wingmate's stdout and stderr whole, with the name in front."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from nsrun import wingmate_in_namespace


def test_binary_long_and_unterminated_output_comes_through_whole(
    tmp_path: Path,
) -> None:
    """Non-UTF-8 bytes, a 1 MiB line and a last line without newline are all relayed."""
    script = tmp_path / "writer.py"
    script.write_text(
        "import sys\n"
        "out = sys.stdout.buffer\n"
        "out.write(b'binary \\xff\\xfe\\x00 end\\n')\n"
        "out.write(b'x' * (1024 * 1024) + b'\\n')\n"
        "out.write(b'no newline at the end')\n"
        "out.flush()\n"
        "sys.stderr.write('to stderr\\n')\n"
    )
    (tmp_path / "wingmate.yaml").write_text(
        "service:\n"
        "  writer:\n"
        f"    command: ['{sys.executable}', '{script}']\n"
        "    restart: never\n"
        "  keeper:\n"
        "    command: [sleep, '1000']\n"
    )
    with wingmate_in_namespace(tmp_path) as ns:
        ns.stderr.wait_for(r"writer: exited with code 0")
        ns.stdout.wait_for(r"writer: no newline at the end\n")
        ns.signal(signal.SIGTERM)
        assert ns.wait() == 0

    raw = b"".join(ns.stdout.lines)
    assert b"writer: binary \xff\xfe\x00 end\n" in raw
    prefix = b"writer: "
    pieces = [
        line[len(prefix) :]
        for line in raw.split(b"\n")
        if line.startswith(prefix + b"x")
    ]
    payload = b"".join(pieces)
    assert len(pieces) > 1, "a 1 MiB line is cut into several tagged lines"
    assert payload == b"x" * (1024 * 1024)
    assert "writer: to stderr" in ns.stderr.text()
    assert "to stderr" not in ns.stdout.text()


def test_inherit_output_passes_descriptors_through_untagged(tmp_path: Path) -> None:
    """output: inherit gives the service wingmate's own stdout, with no name added."""
    (tmp_path / "wingmate.yaml").write_text(
        "service:\n"
        "  plain:\n"
        "    command: [sh, -c, 'echo untagged line']\n"
        "    restart: never\n"
        "    output: inherit\n"
        "  keeper:\n"
        "    command: [sleep, '1000']\n"
    )
    with wingmate_in_namespace(tmp_path) as ns:
        ns.stdout.wait_for(r"(?m)^untagged line$")
        assert "plain: untagged line" not in ns.stdout.text()

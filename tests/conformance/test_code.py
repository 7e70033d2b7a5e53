"""Code execution behaviours of the Backend protocol, the same on every backend."""

from __future__ import annotations

import shutil

import pytest

from core.backends.base import Backend, Stream
from core.errors import UnsupportedLanguage

HAS_NODE = shutil.which("node") is not None


async def test_stdout_and_stderr_are_kept_apart(backend: Backend) -> None:
    result = await backend.execute_code("import sys\nprint('to out')\nprint('to err', file=sys.stderr)", "python", 10)
    assert result.ok and result.exit_code == 0
    assert (result.stdout, result.stderr) == ("to out\n", "to err\n")
    assert result.language == "python" and not result.timed_out and result.duration > 0


@pytest.mark.parametrize("code", [1, 3, 42, 127])
async def test_a_non_zero_exit_code_is_a_result(backend: Backend, code: int) -> None:
    result = await backend.execute_code(f"import sys\nprint('before')\nsys.exit({code})", "python", 10)
    assert (result.exit_code, result.ok, result.stdout) == (code, False, "before\n")


async def test_an_exception_is_a_result_with_its_traceback(backend: Backend) -> None:
    result = await backend.execute_code("raise ValueError('boom')", "python", 10)
    assert result.exit_code == 1
    assert "ValueError: boom" in result.stderr


async def test_the_wall_clock_timeout_stops_the_run_and_keeps_its_output(backend: Backend) -> None:
    code = "import time\nprint('started', flush=True)\ntime.sleep(30)\nprint('never')"
    result = await backend.execute_code(code, "python", 1.5)
    assert result.timed_out and result.exit_code is None and not result.ok
    assert result.stdout == "started\n"
    assert "timeout" in result.killed_reason
    assert result.duration < 10


async def test_code_runs_in_the_workspace(backend: Backend) -> None:
    await backend.write_file("input.txt", b"from the workspace")
    code = "import os\nprint(os.path.basename(os.getcwd()))\nprint(open('input.txt').read())\n"
    code += "open('output.txt', 'w').write('made by code')"
    result = await backend.execute_code(code, "python", 10)
    assert result.stdout == "workspace\nfrom the workspace\n"
    assert await backend.read_file("output.txt", 100) == b"made by code"


async def test_unicode_and_binary_output(backend: Backend) -> None:
    code = "import sys\nprint('héllo ✓ 日本')\nsys.stdout.flush()\nsys.stdout.buffer.write(b'\\xff\\xfe\\n')"
    result = await backend.execute_code(code, "python", 10)
    assert result.stdout.startswith("héllo ✓ 日本\n")
    assert "\ufffd" in result.stdout  # invalid UTF-8 is replaced, never an error


async def test_output_callback_sees_everything_printed(backend: Backend) -> None:
    seen: list[tuple[Stream, str]] = []
    result = await backend.execute_code(
        "import sys\nfor i in range(3):\n    print(i)\nprint('oops', file=sys.stderr)", "python", 10,
        lambda stream, text: seen.append((stream, text)),
    )
    assert "".join(text for stream, text in seen if stream == "stdout") == result.stdout == "0\n1\n2\n"
    assert "".join(text for stream, text in seen if stream == "stderr") == result.stderr == "oops\n"


async def test_large_output_is_kept_up_to_the_cap(backend: Backend) -> None:
    result = await backend.execute_code("print('x' * 3_000_000)", "python", 20)
    assert result.exit_code == 0 and result.stdout_truncated
    assert 500_000 <= len(result.stdout) <= 2_000_000


async def test_bash(backend: Backend) -> None:
    result = await backend.execute_code("echo \"$((6 * 7))\"; echo warn >&2; exit 4", "bash", 10)
    assert (result.exit_code, result.stdout, result.stderr, result.language) == (4, "42\n", "warn\n", "bash")


@pytest.mark.skipif(not HAS_NODE, reason="node is not installed")
async def test_node(backend: Backend) -> None:
    result = await backend.execute_code("console.log(6 * 7); console.error('e')", "javascript", 10)
    assert (result.exit_code, result.stdout, result.stderr, result.language) == (0, "42\n", "e\n", "node")


async def test_unknown_language_is_refused(backend: Backend) -> None:
    with pytest.raises(UnsupportedLanguage):
        await backend.execute_code("1", "cobol", 10)


async def test_nothing_is_left_running(backend: Backend) -> None:
    code = "import subprocess\nsubprocess.Popen(['sleep', '30'])\nprint('parent done')"
    result = await backend.execute_code(code, "python", 10)
    assert result.exit_code == 0 and result.stdout == "parent done\n"
    assert result.duration < 5  # a child holding the pipes open must not hold the run until the timeout

"""Throughput of the validators: path normalisation, command parsing, escape stripping, risk classifier.

Run: .venv/bin/python bench/validators.py
Inputs are the public payload corpora in tests/data/corpora plus generated text.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.commands import parse  # noqa: E402
from core.errors import ValidationError  # noqa: E402
from core.security.paths import PathPolicy  # noqa: E402
from core.security.risk import classify  # noqa: E402
from core.security.sanitize import strip_terminal_escapes  # noqa: E402


def corpus_lines(pattern: str) -> list[str]:
    lines: list[str] = []
    for f in sorted((ROOT / "tests" / "data" / "corpora").glob(pattern)):
        lines += [ln for ln in f.read_text(errors="replace").splitlines() if ln.strip()]
    return lines


def rate(label: str, items: list[str], fn: Callable[[str], object], repeat: int) -> None:
    start = time.perf_counter()
    for _ in range(repeat):
        for item in items:
            try:
                fn(item)
            except ValidationError:
                pass
    elapsed = time.perf_counter() - start
    n = len(items) * repeat
    print(f"{label}: {n:,} inputs in {elapsed:.2f} s = {n / elapsed:,.0f}/s")


def main() -> None:
    policy = PathPolicy()
    paths = corpus_lines("traversal-*/*.txt")
    cmds = corpus_lines("cmdinj-*/*.txt")
    rate("PathPolicy.normalize (traversal corpora)", paths, policy.normalize, 20)
    rate("parse (read file: + traversal payloads)", ["read file:" + p for p in paths], parse, 20)
    rate("classify (command-injection corpora)", cmds, lambda c: classify(c, "bash"), 5)
    blob = ("normal text line with \x1b[31mcolour\x1b[0m and \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\n" * 20000)
    start = time.perf_counter()
    for _ in range(5):
        strip_terminal_escapes(blob)
    elapsed = time.perf_counter() - start
    print(f"strip_terminal_escapes: {len(blob) * 5 / elapsed / 1e6:,.1f} MB/s")


if __name__ == "__main__":
    main()

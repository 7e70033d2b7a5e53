"""core/ must be usable without a terminal: importing all of it loads neither textual nor rich."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import core

ROOT = Path(__file__).resolve().parents[2]


def core_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(core.__path__, "core."))


def test_there_are_core_modules_to_check() -> None:
    mods = core_modules()
    assert "core.operations" in mods and "core.security.paths" in mods and "core.backends.local" in mods


def test_importing_every_core_module_loads_no_textual_or_rich() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {core_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'tui', 'daytona', 'openai'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core imported: {out.stdout.strip()}"


def test_cli_entry_does_not_load_textual_for_headless_commands() -> None:
    code = "import sys, tui.main\nprint('textual' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

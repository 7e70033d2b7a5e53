"""The theme from the config file before the config is loaded, so the app's first frame is in the right colours.

The config (tomllib, the model, its checks) is loaded after the first frame (tui/screens/start.py). Only
``[ui] theme`` is wanted before it, and only written the plain way sandchat writes it (``theme = "nord"``);
anything else gives None here, and the value the full load finds is applied when it is done.
"""

from __future__ import annotations

import re
from pathlib import Path

_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\"' -]+?)\s*\]\s*(?:#.*)?$")
_THEME = re.compile(r"""^\s*theme\s*=\s*(?:"([A-Za-z0-9_.+-]{1,64})"|'([A-Za-z0-9_.+-]{1,64})')\s*(?:#.*)?$""")
_LIMIT = 1 << 20  # a config file is a few KiB; a huge one is left to the full load


def peek_theme(path: Path) -> str | None:
    """``[ui] theme`` as the file spells it plainly, or None (no file, no such key, or not plain)."""
    try:
        with path.open("rb") as stream:
            data = stream.read(_LIMIT + 1)
    except OSError:
        return None
    if len(data) > _LIMIT:
        return None
    text = data.decode("utf-8", "replace")
    section = ""
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            section = header.group(1)
            continue
        if section == "ui":
            theme = _THEME.match(line)
            if theme:
                return theme.group(1) or theme.group(2)
    return None

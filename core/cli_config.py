"""``sandchat config path|show|get|set``: read and change the settings from the command line."""

from __future__ import annotations

import argparse
import json
import os
from typing import TextIO

import tomli_w

from core.config import get_value, load_config, mask_secret, to_display_dict, update_config_file
from core.config_model import secret_keys
from core.paths import AppPaths


def run_config(args: argparse.Namespace, paths: AppPaths, out: TextIO) -> int:
    """Carry out one ``config`` action; a broken file raises ConfigError (the caller prints it)."""
    action = args.config_action
    if action == "path":
        out.write(f"{paths.config_file}\n")
        return 0
    if action == "set":
        update_config_file(paths.config_file, args.key, args.value)
        shown = mask_secret(args.value) if args.key in secret_keys() else args.value
        out.write(f"{args.key} = {shown}  (saved to {paths.config_file})\n")
        return 0
    loaded = load_config(paths.config_file, os.environ)
    if action == "get":
        value = get_value(loaded.config, args.key)
        if args.key in secret_keys():
            value = mask_secret(str(value))
        out.write(_plain(value) + "\n")
        return 0
    table = to_display_dict(loaded.config)
    if args.json:
        out.write(json.dumps(table, indent=2, default=str) + "\n")
    else:
        out.write(tomli_w.dumps(table))
    for key, var in sorted(loaded.env_overrides.items()):
        out.write(f"# {key} comes from the environment variable {var}\n")
    return 0


def _plain(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list | dict):
        return json.dumps(list(value) if isinstance(value, tuple) else value, default=str)
    return str(value)

"""The fake cloud's bookkeeping: sandboxes, their states and their files on this machine.

Each sandbox is a directory ``<root>/<id>`` standing for the sandbox's ``/``; its user's home is
``/home/daytona`` inside it. Sandbox paths are mapped onto that directory lexically, so ``..`` cannot climb
out of it, but symlinks are followed by the host's kernel, exactly as the real daemon follows them inside a
real sandbox. That is the point: the backend must refuse such links before the toolbox is ever asked.

State changes are scheduled on the server's event loop and announced to listeners (the socket.io
gateway), the way Daytona announces ``sandbox.state.updated``.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HOME = "/home/daytona"

StateListener = Callable[[dict[str, Any], str, str], None]  # (sandbox json, old state, new state)


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class FakeSandbox:
    """One sandbox as the API reports it."""

    id: str
    root: Path
    labels: dict[str, str]
    target: str
    env: dict[str, str]
    body: dict[str, Any]  # the create request, kept to check what the SDK sent
    state: str = "creating"
    created_at: str = field(default_factory=_now)

    @property
    def home(self) -> Path:
        return self.root / HOME.lstrip("/")

    def host_path(self, path: str) -> Path:
        """The host path of sandbox path ``path``; relative paths start at the home directory."""
        absolute = path if path.startswith("/") else f"{HOME}/{path}"
        return self.root / os.path.normpath("/" + absolute).lstrip("/")

    def to_json(self, toolbox_url: str) -> dict[str, Any]:
        """The sandbox DTO, camelCase, with every field the SDK's model requires."""
        body = self.body
        return {
            "id": self.id,
            "organizationId": "org-fake",
            "name": body.get("name") or self.id,
            "snapshot": body.get("snapshot"),
            "user": "daytona",
            "env": self.env,
            "labels": self.labels,
            "public": False,
            "networkBlockAll": bool(body.get("networkBlockAll", False)),
            "networkAllowList": body.get("networkAllowList"),
            "kvm": False,
            "target": self.target,
            "cpu": body.get("cpu") or 1,
            "gpu": 0,
            "memory": body.get("memory") or 1,
            "disk": body.get("disk") or 3,
            "state": self.state,
            "desiredState": "destroyed" if self.state == "destroyed" else "started",
            "autoStopInterval": body.get("autoStopInterval", 15),
            "autoDeleteInterval": body.get("autoDeleteInterval", -1),
            "createdAt": self.created_at,
            "updatedAt": _now(),
            "toolboxProxyUrl": toolbox_url,
        }


class SandboxStore:
    """All sandboxes of the one fake organisation; safe to call from the test's thread."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sandboxes: dict[str, FakeSandbox] = {}
        self.listeners: list[StateListener] = []
        self.toolbox_url = ""
        self.loop: asyncio.AbstractEventLoop | None = None  # the server's loop, for timers
        self.start_delay = 0.0  # seconds between "starting" and "started"
        self.never_start = False  # create leaves the sandbox "creating" forever: the create-timeout fault
        self._lock = threading.RLock()

    def create(self, body: dict[str, Any]) -> FakeSandbox:
        sandbox_id = "sb-" + uuid.uuid4().hex[:12]
        root = self.root / sandbox_id
        sandbox = FakeSandbox(
            id=sandbox_id,
            root=root,
            labels=dict(body.get("labels") or {}),
            target=str(body.get("target") or "us"),
            env=dict(body.get("env") or {}),
            body=body,
        )
        sandbox.home.mkdir(parents=True)
        with self._lock:
            self.sandboxes[sandbox_id] = sandbox
        if not self.never_start:
            self.schedule_start(sandbox)
        return sandbox

    def find(self, id_or_name: str) -> FakeSandbox | None:
        with self._lock:
            found = self.sandboxes.get(id_or_name)
            if found is None:
                found = next((s for s in self.sandboxes.values() if s.body.get("name") == id_or_name), None)
            return found

    def matching(self, labels: dict[str, str]) -> list[FakeSandbox]:
        with self._lock:
            boxes = sorted(self.sandboxes.values(), key=lambda s: s.created_at)
        return [s for s in boxes if all(s.labels.get(k) == v for k, v in labels.items())]

    def delete(self, sandbox: FakeSandbox) -> None:
        with self._lock:
            self.sandboxes.pop(sandbox.id, None)
        self.set_state(sandbox, "destroyed")

    def schedule_start(self, sandbox: FakeSandbox) -> None:
        """``starting`` now, ``started`` after ``start_delay`` seconds (at once when there is no delay)."""
        self.set_state(sandbox, "starting")
        if self.start_delay <= 0 or self.loop is None:
            self.set_state(sandbox, "started")
            return
        # call_later is not thread-safe, and tests stop and start sandboxes from their own thread
        self.loop.call_soon_threadsafe(self.loop.call_later, self.start_delay, self._finish_start, sandbox)

    def _finish_start(self, sandbox: FakeSandbox) -> None:
        if sandbox.state == "starting":
            self.set_state(sandbox, "started")

    def stop(self, sandbox: FakeSandbox) -> None:
        self.set_state(sandbox, "stopping")
        self.set_state(sandbox, "stopped")

    def set_state(self, sandbox: FakeSandbox, new: str) -> None:
        with self._lock:
            old, sandbox.state = sandbox.state, new
        if old != new:
            for listener in list(self.listeners):
                listener(sandbox.to_json(self.toolbox_url), old, new)

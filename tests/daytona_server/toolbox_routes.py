"""The toolbox, reached at ``{toolboxProxyUrl}/{sandboxId}/...``: files and processes, as the daemon does them.

The daemon's habits are copied where the backend depends on them: file info and listings follow symlinks
(``os.stat``) and skip broken ones, uploads create missing parents and land with mode 0644, a directory is
only deleted with ``recursive=true``, and a code run's stdout and stderr come back merged as ``result``. A
sandbox that is not running answers like the real proxy does: 400, "Is the Sandbox started?", no source.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import signal
import stat
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import BodyPartReader, web

from tests.daytona_server.api_routes import STORE
from tests.daytona_server.state import HOME, FakeSandbox

BOUNDARY = "DAYTONA-FILE-BOUNDARY"
_INTERPRETERS = {"python": ["python3", "-u", "-"], "javascript": ["node", "-"]}
_NOT_RUNNING = (
    "bad request: failed to resolve container IP after 3 attempts: no IP address found. Is the Sandbox started?"
)


def daemon_error(status: int, message: str, code: str) -> web.Response:
    body = {"statusCode": status, "message": message, "code": code, "source": "DAYTONA_DAEMON"}
    return web.json_response(body, status=status)


def _running(request: web.Request) -> FakeSandbox | web.Response:
    found = request.app[STORE].find(request.match_info["sandbox_id"])
    if found is None:
        body = {"statusCode": 404, "message": "not found: sandbox container not found", "code": "NOT_FOUND"}
        return web.json_response(body, status=404)
    if found.state != "started":
        return web.json_response({"statusCode": 400, "message": _NOT_RUNNING, "code": "BAD_REQUEST"}, status=400)
    return found


def go_mode(mode: int) -> str:
    """``os.FileMode.String()`` as Go writes it: ``-rw-r--r--``, ``drwxr-xr-x``, ``prw-------`` ..."""
    kinds = ((stat.S_ISDIR, "d"), (stat.S_ISLNK, "L"), (stat.S_ISFIFO, "p"), (stat.S_ISSOCK, "S"))
    kind = next((letter for test, letter in kinds if test(mode)), "")
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = "Dc" if stat.S_ISCHR(mode) else "D"
    return (kind or "-") + stat.filemode(mode)[1:]


def file_info(path: Path, shown: str) -> dict[str, Any]:
    info = path.stat()  # follows symlinks, as the daemon's os.Stat does
    modified = datetime.fromtimestamp(info.st_mtime, UTC)
    return {
        "name": path.name,
        "size": info.st_size,
        "mode": go_mode(info.st_mode),
        "modTime": modified.strftime("%Y-%m-%d %H:%M:%S.%f +0000 UTC"),
        "modifiedAt": modified.isoformat().replace("+00:00", "Z"),
        "isDir": stat.S_ISDIR(info.st_mode),
        "owner": str(info.st_uid),
        "group": str(info.st_gid),
        "permissions": f"{stat.S_IMODE(info.st_mode):04o}",
        "path": shown,
    }


def _os_error(exc: OSError) -> web.Response:
    if isinstance(exc, FileNotFoundError):
        return daemon_error(404, str(exc), "FILE_NOT_FOUND")
    if isinstance(exc, PermissionError):
        return daemon_error(403, str(exc), "FILE_ACCESS_DENIED")
    return daemon_error(400, str(exc), "BAD_REQUEST")


async def home_dir(request: web.Request) -> web.Response:
    found = _running(request)
    return found if isinstance(found, web.Response) else web.json_response({"dir": HOME})


async def get_info(request: web.Request) -> web.Response:
    found = _running(request)
    if isinstance(found, web.Response):
        return found
    shown = request.query.get("path", "")
    try:
        return web.json_response(file_info(found.host_path(shown), shown))
    except OSError as exc:
        return _os_error(exc)


async def list_files(request: web.Request) -> web.Response:
    found = _running(request)
    if isinstance(found, web.Response):
        return found
    shown = request.query.get("path") or "."
    try:
        names = sorted(os.listdir(found.host_path(shown)))
    except OSError as exc:
        return _os_error(exc)
    entries = []
    for name in names:
        with contextlib.suppress(OSError):  # the daemon skips what it cannot stat (broken links)
            entries.append(file_info(found.host_path(f"{shown}/{name}"), f"{shown.rstrip('/')}/{name}"))
    return web.json_response(entries)


async def delete_file(request: web.Request) -> web.Response:
    found = _running(request)
    if isinstance(found, web.Response):
        return found
    path = found.host_path(request.query.get("path", ""))
    try:
        if path.is_dir() and request.query.get("recursive") != "true":
            return daemon_error(400, "cannot delete directory without recursive flag", "BAD_REQUEST")
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.stat()  # like the daemon: a missing file (or a broken link) is not found
            path.unlink()
    except OSError as exc:
        return _os_error(exc)
    return web.Response(status=204)


async def create_folder(request: web.Request) -> web.Response:
    found = _running(request)
    if isinstance(found, web.Response):
        return found
    try:
        found.host_path(request.query.get("path", "")).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _os_error(exc)
    return web.Response(status=201)


async def bulk_upload(request: web.Request) -> web.Response:
    found = _running(request)
    if isinstance(found, web.Response):
        return found
    reader = await request.multipart()
    destinations: dict[str, str] = {}
    errors: list[str] = []
    async for part in reader:
        if not isinstance(part, BodyPartReader):
            continue
        name, data = part.name or "", await part.read()
        index = name.removeprefix("files[").split("]")[0]
        if name.endswith(".path"):
            destinations[index] = data.decode().strip()
        elif name.endswith(".file"):
            problem = _store_upload(found, destinations.get(index, ""), bytes(data))
            if problem:
                errors.append(problem)
    if errors:
        return web.json_response({"errors": errors}, status=400)
    return web.json_response({"files": []})


def _store_upload(sandbox: FakeSandbox, destination: str, data: bytes) -> str:
    """Write like the daemon: parents made, a temp file renamed into place, mode 0644; "" or the problem."""
    if not destination:
        return "file: missing .path metadata"
    target = sandbox.host_path(destination)
    try:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):  # Go's MkdirAll words it so
            return f"{destination}: mkdir {os.path.dirname(destination)}: not a directory"
        temp = target.parent / f".daytona-upload-{uuid.uuid4().hex[:8]}"
        temp.write_bytes(data)
        temp.chmod(0o644)
        resolved = Path(os.path.realpath(target)) if target.is_symlink() else target
        if resolved.is_dir():
            temp.unlink()
            return f"{destination}: open {destination}: is a directory"
        os.replace(temp, resolved)
    except OSError as exc:
        return f"{destination}: {exc.strerror or exc}"
    return ""


def _disposition(kind: str, path: str) -> str:
    """Content-Disposition naming the requested path; non-ASCII paths also as RFC 5987 ``filename*``."""
    plain = path.replace("\\", "\\\\").replace('"', '\\"')
    if plain.isascii():
        return f'form-data; name="{kind}"; filename="{plain}"'
    fallback = plain.encode("ascii", "replace").decode()
    return f"form-data; name=\"{kind}\"; filename=\"{fallback}\"; filename*=UTF-8''{quote(path, safe='/')}"


def _download_part(sandbox: FakeSandbox, path: str) -> bytes:
    host = sandbox.host_path(path)
    try:
        if host.is_dir():
            raise IsADirectoryError(f"{path} is a directory")
        data, kind, ctype = host.read_bytes(), "file", "application/octet-stream"
    except OSError as exc:
        error = {"message": f"file not found or invalid: {path}", "statusCode": 404, "code": "FILE_NOT_FOUND"}
        if not isinstance(exc, FileNotFoundError):
            error = {"message": str(exc), "statusCode": 400, "code": "BAD_REQUEST"}
        error["source"] = "DAYTONA_DAEMON"
        data, kind, ctype = web.json_response(error).body, "error", "application/json"  # type: ignore[assignment]
    head = f"--{BOUNDARY}\r\nContent-Disposition: {_disposition(kind, path)}\r\nContent-Type: {ctype}\r\n\r\n"
    return head.encode() + bytes(data) + b"\r\n"


async def bulk_download(request: web.Request) -> web.Response:
    found = _running(request)
    if isinstance(found, web.Response):
        return found
    paths = (await request.json()).get("paths") or []
    body = b"".join(_download_part(found, str(p)) for p in paths) + f"--{BOUNDARY}--\r\n".encode()
    return web.Response(body=body, headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})


async def _run(argv: list[str], stdin: bytes, cwd: Path, env: dict[str, str], limit: float) -> tuple[int, str]:
    """Run ``argv`` in its own process group, stdout and stderr merged; (-408, "") on timeout."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        cwd=cwd, env=env, start_new_session=True,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(stdin), limit if limit > 0 else None)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        return -408, ""
    return proc.returncode if proc.returncode is not None else -1, out.decode("utf-8", "replace")


def _process_env(sandbox: FakeSandbox, extra: dict[str, str] | None) -> dict[str, str]:
    sandbox.home.mkdir(parents=True, exist_ok=True)
    return {"HOME": str(sandbox.home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **(extra or {})}


async def code_run(request: web.Request) -> web.Response:
    found = _running(request)
    if isinstance(found, web.Response):
        return found
    body = await request.json()
    argv = _INTERPRETERS.get(str(body.get("language")))
    if argv is None:
        return daemon_error(400, f"unsupported language: {body.get('language')}", "BAD_REQUEST")
    env = _process_env(found, body.get("envs"))
    code, output = await _run(argv, str(body["code"]).encode(), found.home, env, float(body.get("timeout") or 0))
    if code == -408:
        return daemon_error(408, "command execution timeout", "PROCESS_EXECUTION_TIMEOUT")
    return web.json_response({"exitCode": code, "result": output, "artifacts": {"charts": []}})


async def execute(request: web.Request) -> web.Response:
    found = _running(request)
    if isinstance(found, web.Response):
        return found
    body = await request.json()
    cwd = found.host_path(body["cwd"]) if body.get("cwd") else found.home
    env = _process_env(found, body.get("envs"))
    code, output = await _run(shlex.split(body["command"]), b"", cwd, env, float(body.get("timeout") or 0))
    if code == -408:
        return daemon_error(408, "command execution timed out", "PROCESS_EXECUTION_TIMEOUT")
    return web.json_response({"exitCode": code, "result": output})


def add_routes(app: web.Application) -> None:
    """Register the toolbox under ``/toolbox/{sandbox_id}``."""
    base = "/toolbox/{sandbox_id}"
    app.router.add_get(f"{base}/user-home-dir", home_dir)
    app.router.add_get(f"{base}/files", list_files)
    app.router.add_delete(f"{base}/files", delete_file)
    app.router.add_get(f"{base}/files/info", get_info)
    app.router.add_post(f"{base}/files/folder", create_folder)
    app.router.add_post(f"{base}/files/bulk-upload", bulk_upload)
    app.router.add_post(f"{base}/files/bulk-download", bulk_download)
    app.router.add_post(f"{base}/process/code-run", code_run)
    app.router.add_post(f"{base}/process/execute", execute)

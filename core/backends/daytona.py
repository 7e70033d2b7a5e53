"""The Daytona backend: the workspace and code runs live in a Daytona cloud sandbox, driven by the official SDK.

``DaytonaSandbox`` implements the same ``Backend`` protocol as ``LocalSandbox``, with the local one's
semantics (tests/conformance runs one suite against both; the differences that remain are listed in
tests/conformance/README.md). The pieces:

* daytona_session.py: the background start, the sandbox's lifecycle, and the one ``call`` through which
  every Daytona call goes (recovery of a stopped sandbox, retries, error messages);
* daytona_lifecycle.py: find / create / start / delete through the SDK, which it alone imports (lazily);
* daytona_links.py: symlink containment, since Daytona's toolbox follows links without saying so;
* daytona_runner.py: the Python program that runs code inside the sandbox;
* daytona_doctor.py: ``check_connection`` for ``sandchat doctor``.

The workspace is ``~/workspace`` in the sandbox (``/home/daytona/workspace`` on Daytona's images): the
workspace-relative paths this backend receives are resolved against it, and code runs there.
"""

from __future__ import annotations

from core.backends.base import DirEntry, ExecResult, FileInfo, Isolation, OutputCallback, Stream, display_path
from core.backends.daytona_doctor import check_connection
from core.backends.daytona_errors import classify
from core.backends.daytona_links import (
    LinkMap,
    Resolved,
    dir_entry,
    file_info,
    link_entry,
    link_info,
    links_from,
    written_info,
)
from core.backends.daytona_runner import RunnerCall, exec_result, lost_run, run_params, runner_call
from core.backends.daytona_session import IDLE_RECHECK, RETRY_DELAYS, DaytonaSession, Live
from core.backends.local_launch import canonical_language
from core.config_model import DaytonaConfig
from core.errors import BackendError, FileTooLarge, NotFound, UnsupportedLanguage

__all__ = ["DaytonaSandbox", "check_connection", "open_daytona_backend"]

OUTPUT_CAP = 1024 * 1024  # bytes kept per stream of a code run, as the local sandbox keeps by default
CALL_TIMEOUT = 30.0  # seconds for one metadata call (file info, listing, delete)
TRANSFER_TIMEOUT = 300  # seconds for one upload or download
RUNNER_TIMEOUT = 30.0  # seconds for a runner call that runs no user code (unlink, path check)
_INTERPRETERS = {"python": (("python3", "-u"), ".py"), "bash": (("bash",), ".sh"), "node": (("node",), ".js")}


class DaytonaSandbox:
    """A Daytona cloud sandbox as a Backend. Construction does no I/O; ``start()`` begins the connection."""

    name = "daytona"

    def __init__(
        self,
        config: DaytonaConfig,
        *,
        api_key: str,
        sandbox: str = "default",
        max_file_bytes: int = 10 * 1024 * 1024,
        exec_timeout: float = 30.0,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        idle_recheck: float = IDLE_RECHECK,
    ) -> None:
        self.config = config
        self.sandbox_id = sandbox  # the sandbox's name until Daytona's id is known
        self.max_file_bytes = max_file_bytes
        self.exec_timeout = exec_timeout
        self.call_timeout = CALL_TIMEOUT  # seconds; attributes so that tests can shorten them
        self.transfer_timeout = TRANSFER_TIMEOUT
        self.session = DaytonaSession(
            config,
            api_key=api_key,
            name=sandbox,
            retry_delays=retry_delays,
            idle_recheck=idle_recheck,
            on_connected=self._connected,
        )

    # --- lifecycle ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Begin finding or creating the sandbox in the background; returns at once."""
        self.session.start_soon()

    async def ready(self) -> None:
        """Wait until the sandbox is usable (starting it if ``start()`` was not called); raises why not."""
        await self.session.ready()

    async def close(self) -> None:
        """Delete an ephemeral sandbox, leave a persistent one to Daytona's auto-stop, close the client."""
        await self.session.close()

    @property
    def region(self) -> str:
        """The sandbox's region (Daytona's "target"), as configured until the sandbox says."""
        live = self.session.live
        return (live.region if live else "") or self.config.target

    def _connected(self, live: Live) -> None:
        self.sandbox_id = live.id

    async def _resolve(self, live: Live, path: str, *, follow_last: bool) -> Resolved:
        """``path`` with symlinks followed; a huge workspace's links are looked up along the path."""
        if live.links.complete:
            return live.links.resolve(path, follow_last=follow_last)
        report = await self.session.run_runner(live.process, runner_call("along", path=path), RUNNER_TIMEOUT)
        along = LinkMap(live.links.workspace, links_from(report.get("links") or {}), aliases=live.links.aliases)
        return along.resolve(path, follow_last=follow_last)

    # --- files -------------------------------------------------------------------------------------------

    async def read_file(self, path: str, max_bytes: int) -> bytes:
        """The file's bytes: its size is asked for first, so an oversized file is refused unread."""
        shown = display_path(path)

        async def attempt(live: Live) -> bytes:
            target = await self._resolve(live, path, follow_last=True)
            where = live.links.absolute(target.real)
            info = file_info(path, await live.sandbox.fs.get_file_info(where, request_timeout=self.call_timeout))
            if info.kind != "file":
                what = "a directory" if info.kind == "dir" else "not a regular file"
                raise BackendError(f"{shown} is {what}")
            if info.size > max_bytes:
                raise FileTooLarge(info.size, max_bytes, what=shown)
            if info.size == 0:  # the SDK's download stream reports an empty file as "no data received"
                return b""
            return await _download(live, where, max_bytes, shown, self.transfer_timeout)

        return await self.session.call(f"reading {shown}", attempt, idempotent=True, shown_path=shown)

    async def write_file(self, path: str, content: bytes) -> FileInfo:
        """Upload ``content`` (missing parent directories are made); refused unsent when over the limit."""
        shown = display_path(path)
        if len(content) > self.max_file_bytes:  # before anything else, so no byte moves
            raise FileTooLarge(len(content), self.max_file_bytes, what=shown)

        async def attempt(live: Live) -> FileInfo:
            target = await self._resolve(live, path, follow_last=True)
            if not target.real:
                raise BackendError(f"{shown} is a directory")
            try:
                await live.sandbox.fs.upload_file(content, live.links.absolute(target.real), self.transfer_timeout)
            except Exception as exc:
                problem = _upload_problem(exc, shown)
                if problem is None:
                    raise
                raise problem from None
            return written_info(path, len(content))

        return await self.session.call(f"writing {shown}", attempt, idempotent=True, shown_path=shown)

    async def delete_file(self, path: str) -> None:
        """Delete a file, a symlink (never its target) or an empty directory."""
        shown = display_path(path)
        if not path.strip("/"):
            raise BackendError("the workspace root cannot be deleted")

        async def attempt(live: Live) -> None:
            target = await self._resolve(live, path, follow_last=False)
            if target.link is not None:
                await self._unlink(live, target.real, shown)
            else:
                await _delete(live, target.real, shown, self.call_timeout)
            live.links.forget(target.real)

        await self.session.call(f"deleting {shown}", attempt, idempotent=True, shown_path=shown)

    async def _unlink(self, live: Live, real: str, shown: str) -> None:
        """A symlink goes, never its target; the toolbox cannot do that (it follows links), the runner can."""
        report = await self.session.run_runner(live.process, runner_call("unlink", path=real), RUNNER_TIMEOUT)
        self.session.update_links(live, report)
        if not report.get("unlinked"):
            raise NotFound(f"{shown}: no such file or directory")

    async def list_files(self, directory: str) -> list[DirEntry]:
        """The directory's entries, directories first; symlinks are listed as links, not as their targets."""
        shown = display_path(directory)

        async def attempt(live: Live) -> list[DirEntry]:
            target = await self._resolve(live, directory, follow_last=True)
            try:
                where = live.links.absolute(target.real)
                infos = await live.sandbox.fs.list_files(where, request_timeout=self.call_timeout)
            except Exception as exc:
                if "not a directory" in classify(exc).message.lower():
                    raise BackendError(f"{shown} is not a directory") from None
                raise
            links = live.links.children(target.real)
            entries = [link_entry(directory, name, link) for name, link in links.items()]
            entries += [dir_entry(directory, info.name, info) for info in infos if info.name not in links]
            return sorted(entries, key=lambda e: (e.kind != "dir", e.name))

        return await self.session.call(f"listing {shown}", attempt, idempotent=True, shown_path=shown)

    async def get_file_info(self, path: str) -> FileInfo:
        """What ``lstat`` would say: a symlink as the link itself."""
        shown = display_path(path)

        async def attempt(live: Live) -> FileInfo:
            target = await self._resolve(live, path, follow_last=False)
            if target.link is not None:
                return link_info(path, target.link)
            where = live.links.absolute(target.real)
            return file_info(path, await live.sandbox.fs.get_file_info(where, request_timeout=self.call_timeout))

        return await self.session.call(f"reading the details of {shown}", attempt, idempotent=True, shown_path=shown)

    # --- code --------------------------------------------------------------------------------------------

    async def execute_code(
        self,
        code: str,
        language: str,
        timeout: float,  # noqa: ASYNC109 - the Backend protocol's signature; enforced in the sandbox
        on_output: OutputCallback | None = None,
    ) -> ExecResult:
        """Run ``code`` in the workspace through the runner; a non-zero exit or a timeout is a result."""
        canonical = canonical_language(language)
        if canonical is None:
            raise UnsupportedLanguage(
                f"language {language!r} is not supported", field="language", hint="available: python, bash, node"
            )
        argv, suffix = _INTERPRETERS[canonical]
        wall_clock = timeout if timeout > 0 else self.exec_timeout
        call = runner_call("run", **run_params(code, argv, suffix, wall_clock, OUTPUT_CAP))

        async def attempt(live: Live) -> ExecResult:
            return await self._run(live, call, canonical, wall_clock)

        result = await self.session.call("running code", attempt, idempotent=False)
        if on_output is not None:  # the toolbox answers once, at the end: the output arrives in one piece
            streams: tuple[tuple[Stream, str], ...] = (("stdout", result.stdout), ("stderr", result.stderr))
            for stream, text in streams:
                if text:
                    on_output(stream, text)
        return result

    async def _run(self, live: Live, call: RunnerCall, language: str, wall_clock: float) -> ExecResult:
        """One code run through the runner. Timeouts are results; other failures go to ``session.call``."""
        try:
            report = await self.session.run_runner(live.process, call, wall_clock)
        except Exception as exc:
            failure = classify(exc)
            if failure.kind != "timeout":
                raise
            why = "the Daytona daemon stopped the run" if failure.status else "the sandbox did not answer in time"
            return lost_run(language, wall_clock, why)
        if "missing" in report:
            raise UnsupportedLanguage(
                f"{language} is not installed in the Daytona sandbox",
                field="language",
                hint="choose an image or snapshot that has it (daytona.image or daytona.snapshot)",
            )
        self.session.update_links(live, report)
        return exec_result(report, language, wall_clock)

    # --- isolation ---------------------------------------------------------------------------------------

    def isolation(self) -> Isolation:
        """Strong: another machine. The details name the sandbox, region, network and lifecycle policy."""
        live = self.session.live
        config = self.config
        where = f"sandbox {live.id}" if live else f"sandbox {self.session.name!r}: not started yet"
        details = (
            where,
            f"region: {(live.region if live else '') or config.target}; API {config.api_url}",
            _network_policy(config),
            _lifecycle_policy(config, self.session.name),
            _resources(config),
            "files: ~/workspace in the sandbox; symlinks that lead out of it are refused",
        )
        return Isolation(
            "strong",
            "Daytona cloud sandbox: files and code live on Daytona's servers, not on this machine",
            details,
        )


async def _download(live: Live, where: str, max_bytes: int, shown: str, timeout: float) -> bytes:  # noqa: ASYNC109
    """The file's bytes, stopping as soon as there are more than ``max_bytes`` (it grew since its info)."""
    chunks: list[bytes] = []
    total = 0
    stream = await live.sandbox.fs.download_file_stream(where, timeout=timeout)
    async for chunk in stream:
        total += len(chunk)
        if total > max_bytes:
            await stream.aclose()
            raise FileTooLarge(total, max_bytes, what=shown)
        chunks.append(chunk)
    return b"".join(chunks)


async def _delete(live: Live, real: str, shown: str, timeout: float) -> None:  # noqa: ASYNC109 - per call
    """Delete a file, or an empty directory: the toolbox deletes directories only recursively."""
    fs, where = live.sandbox.fs, live.links.absolute(real)
    try:
        await fs.delete_file(where, request_timeout=timeout)
        return
    except Exception as exc:
        if "recursive" not in classify(exc).message:
            raise
    if await fs.list_files(where, request_timeout=timeout) or live.links.children(real):
        raise BackendError(f"{shown}: directory not empty")
    await fs.delete_file(where, recursive=True, request_timeout=timeout)


def _upload_problem(exc: Exception, shown: str) -> BackendError | None:
    """The local backend's wording for an upload the daemon refused because of what is at the path."""
    said = classify(exc).message.lower()
    if "is a directory" in said:
        return BackendError(f"{shown} is a directory")
    if "not a directory" in said:
        return BackendError(f"{shown}: a parent of it is not a directory")
    return None


def _network_policy(config: DaytonaConfig) -> str:
    allowed = ", ".join(config.network_allow_list)
    if config.network_block_all:
        return "network: all outbound traffic blocked" + (f" except to {allowed}" if allowed else "")
    return f"network: outbound traffic allowed only to {allowed}" if allowed else "network: open to the internet"


def _lifecycle_policy(config: DaytonaConfig, name: str) -> str:
    stop = f"auto-stops after {config.auto_stop_minutes} min idle" if config.auto_stop_minutes else "never auto-stops"
    if config.ephemeral:
        return f"ephemeral: deleted when sandchat exits, and by Daytona when it stops if sandchat dies first ({stop})"
    return f"persistent: found again by its label sandchat.sandbox={name}; {stop}"


def _resources(config: DaytonaConfig) -> str:
    if config.image:
        return f"image {config.image}: {config.cpu} CPU, {config.memory_gb} GiB memory, {config.disk_gb} GiB disk"
    return f"snapshot {config.snapshot or '(Daytona default)'} with its own resources"


def open_daytona_backend(
    config: DaytonaConfig, *, api_key: str, sandbox: str, max_file_bytes: int, exec_timeout: float
) -> DaytonaSandbox:
    """The named Daytona sandbox as a Backend; call ``await backend.start()`` at start-up."""
    return DaytonaSandbox(
        config, api_key=api_key, sandbox=sandbox, max_file_bytes=max_file_bytes, exec_timeout=exec_timeout
    )

"""``sandchat ask``: one headless turn through run_ask, with the real approval policy and the local model server."""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.assistant.errors import how_to_configure
from core.backends.local import LocalSandbox
from core.cli_args import add_ask_parser
from core.cli_ask import policy_gate_factory, run_ask
from core.config_model import AssistantConfig
from core.history import ConversationStore
from core.operations import SecureOperations
from tests.openai_server import Broken, Call, Error, OpenAIServer, Reply, ToolCalls

KEY = "sk-test-key-for-the-local-server"
WRITE = Call("write_file", json.dumps({"file_path": "out.txt", "content": "written"}))


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as running:
        yield running


@dataclass
class Run:
    code: int
    out: str
    err: str


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sandchat")
    add_ask_parser(parser.add_subparsers(dest="subcommand"))
    return parser.parse_args(["ask", *argv])


async def ask(server: OpenAIServer, sandbox: LocalSandbox, *argv: str, stdin: str = "", model: str = "test-model",
              data_dir: Path | None = None, interactive: bool | None = None) -> Run:
    config = AssistantConfig(base_url=server.base_url, model=model, api_key=KEY)
    out, err = io.StringIO(), io.StringIO()
    code = await run_ask(
        parse(*argv), ops=SecureOperations(sandbox), config=config, data_dir=data_dir,
        gate_factory=policy_gate_factory(config, sandbox), out=out, err=err, stdin=io.StringIO(stdin),
        interactive=interactive,
    )
    return Run(code, out.getvalue(), err.getvalue())


async def test_reply_to_stdout_commands_to_stderr(server: OpenAIServer, sandbox: LocalSandbox) -> None:
    server.script(ToolCalls((Call("list_files", "{}"),), text="Looking."), Reply("Nothing there."))
    run = await ask(server, sandbox, "what", "is", "there?")
    assert run.code == 0
    assert run.out == "Looking.\n\nNothing there.\n"
    assert "→ list files:\n  [ok] 0 entries in /workspace\n" in run.err
    assert server.chat_requests[0].messages[-1] == {"role": "user", "content": "what is there?"}


async def test_without_a_terminal_approvals_are_denied(
    server: OpenAIServer, sandbox: LocalSandbox, tmp_path: Path
) -> None:
    server.script(ToolCalls((WRITE,)), Reply("I could not write it."))
    run = await ask(server, sandbox, "--json", "write out.txt")
    assert not (tmp_path / "workspace" / "out.txt").exists()
    doc = json.loads(run.out)
    assert run.code == 0 and doc["tool_calls"][0]["status"] == "denied"
    assert "no one to ask here" in doc["tool_calls"][0]["message"] and "--approve" in doc["tool_calls"][0]["message"]
    assert "[denied]" in run.err
    told = server.chat_requests[1].messages[-1]["content"]
    assert told.startswith("[denied] denied: mode ask")


async def test_approve_answers_yes(server: OpenAIServer, sandbox: LocalSandbox, tmp_path: Path) -> None:
    server.script(ToolCalls((WRITE,)), Reply("Written."))
    run = await ask(server, sandbox, "--approve", "write out.txt")
    assert run.code == 0 and (tmp_path / "workspace" / "out.txt").read_text() == "written"
    assert "→ write file:out.txt content:written\n  [ok] wrote 7 bytes" in run.err


async def test_mode_full_auto_writes_without_asking(
    server: OpenAIServer, sandbox: LocalSandbox, tmp_path: Path
) -> None:
    server.script(ToolCalls((WRITE,)), Reply("Written."))
    run = await ask(server, sandbox, "--mode", "full-auto", "write out.txt")
    assert run.code == 0 and (tmp_path / "workspace" / "out.txt").exists()


async def test_read_only_mode_denies_writes_even_with_approve(
    server: OpenAIServer, sandbox: LocalSandbox, tmp_path: Path
) -> None:
    server.script(ToolCalls((WRITE,)), Reply("Not allowed."))
    run = await ask(server, sandbox, "--mode", "read-only", "--approve", "--json", "write out.txt")
    assert json.loads(run.out)["tool_calls"][0]["status"] == "denied"
    assert not (tmp_path / "workspace" / "out.txt").exists()


@pytest.mark.parametrize(("answer", "written"), [("y\n", True), ("n\n", False), ("", False)])
async def test_a_terminal_is_asked(
    server: OpenAIServer, sandbox: LocalSandbox, tmp_path: Path, answer: str, written: bool
) -> None:
    server.script(ToolCalls((WRITE,)), Reply("Done."))
    run = await ask(server, sandbox, "write out.txt", stdin=answer, interactive=True)
    assert (tmp_path / "workspace" / "out.txt").exists() is written
    assert "approval needed (mode ask: writes, deletes and code need approval):" in run.err
    assert "  write file:out.txt content:written" in run.err and "+written" in run.err
    assert "run it? [y]es, [n]o, [a]lways" in run.err


async def test_json_is_one_document_and_nothing_streams(server: OpenAIServer, sandbox: LocalSandbox) -> None:
    server.script(ToolCalls((Call("read_file", '{"file_path": 5}'),)), Reply("Sorry."))
    run = await ask(server, sandbox, "--json", "read it")
    doc = json.loads(run.out)
    assert run.out.count("\n") == 1
    assert doc["reply"] == "Sorry." and doc["status"] == "complete" and doc["incomplete"] is False
    assert doc["tool_calls"] == [{"call_id": "call_0_read_file", "tool": "read_file", "command": "",
                                  "status": "invalid", "message": "argument 'file_path' must be a string, not a number",
                                  "arguments": '{"file_path": 5}'}]
    assert doc["error"] is None and doc["steps"] == 2


async def test_prompt_from_stdin(server: OpenAIServer, sandbox: LocalSandbox) -> None:
    server.script(Reply("ok"))
    run = await ask(server, sandbox, "-", stdin="a question\nover two lines\n")
    assert run.code == 0 and server.chat_requests[0].messages[-1]["content"] == "a question\nover two lines\n"


async def test_usage_errors(server: OpenAIServer, sandbox: LocalSandbox) -> None:
    assert (await ask(server, sandbox, "-", stdin="  \n")).code == 2
    run = await ask(server, sandbox, "--max-steps", "0", "hi")
    assert run.code == 2 and "--max-steps" in run.err
    assert server.chat_requests == []


async def test_no_model_configured(server: OpenAIServer, sandbox: LocalSandbox) -> None:
    run = await ask(server, sandbox, "hi", model="")
    assert run.code == 2 and how_to_configure() in run.err and run.out == ""


async def test_model_errors_exit_6(server: OpenAIServer, sandbox: LocalSandbox) -> None:
    server.script(Error(401, "bad key"))
    run = await ask(server, sandbox, "hi")
    assert run.code == 6 and "refused the API key" in run.err and KEY not in run.err


async def test_a_broken_reply_is_incomplete(server: OpenAIServer, sandbox: LocalSandbox) -> None:
    server.script(Broken("Half of"))
    run = await ask(server, sandbox, "--json", "hi")
    doc = json.loads(run.out)
    assert run.code == 1 and doc["incomplete"] is True and doc["reply"] == "Half of"
    assert doc["error"]["kind"] == "broken_stream" and doc["error"]["retryable"] is True


async def test_history_is_saved_and_can_be_continued(
    server: OpenAIServer, sandbox: LocalSandbox, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    server.script(Reply("Paris."), Reply("About 2 million."))
    first = json.loads((await ask(server, sandbox, "--json", "capital of France?", data_dir=data)).out)
    second = await ask(server, sandbox, "--conversation", str(first["conversation_id"]), "population?", data_dir=data)
    assert second.code == 0 and second.out == "About 2 million.\n"
    assert [m["content"] for m in server.chat_requests[1].messages[1:]] == ["capital of France?", "Paris.",
                                                                          "population?"]
    store = ConversationStore.open(data)
    assert store.conversation(first["conversation_id"]).message_count == 4
    store.close()
    missing = await ask(server, sandbox, "--conversation", "999", "hi", data_dir=data)
    assert missing.code == 2 and "no conversation 999" in missing.err


async def test_no_history_saves_nothing(server: OpenAIServer, sandbox: LocalSandbox, tmp_path: Path) -> None:
    server.script(Reply("ok"))
    await ask(server, sandbox, "--no-history", "hi", data_dir=tmp_path / "data")
    assert not (tmp_path / "data").exists()


async def test_escape_sequences_from_the_model_never_reach_the_terminal(
    server: OpenAIServer, sandbox: LocalSandbox
) -> None:
    server.script(Reply("red \x1b[31malert\x1b[0m and \x1b]0;title\x07 done", chunk=4))
    run = await ask(server, sandbox, "hi")
    assert "\x1b" not in run.out and "\x07" not in run.out and run.out.startswith("red ")

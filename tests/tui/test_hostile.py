"""Hostile text from the model, files and programs: escapes stripped, markup inert, links never followed."""

from __future__ import annotations

from core.backends.local import LocalSandbox
from core.operations import SecureOperations
from tests.openai_server import Call, OpenAIServer, Reply, ToolCalls
from tests.tui.helpers import assistant_app, chat_text, settle, submit
from tui.app import SandchatApp
from tui.widgets.chat_items import ToolCallCard
from tui.widgets.exec_log import ExecutionLog
from tui.widgets.reply import AssistantReply

HOSTILE = (
    "Look: \x1b]52;c;ZXZpbA==\x07 [bold red]red?[/] \x1b[2J [click me](app.quit) ![pic](app.bell)\n\n"
    "```bash\necho \x1b[31mred\x1b[0m [link=x]y[/link]\n```\n"
)


async def test_the_models_markdown_cannot_drive_the_terminal_or_the_app(
    server: OpenAIServer, ops: SecureOperations
) -> None:
    server.script(Reply(HOSTILE, chunk=3))
    app = assistant_app(server.base_url, ops)
    async with app.run_test(size=(120, 40)) as pilot:
        await submit(pilot, "say something")
        reply = app.main.query_one(AssistantReply)
        assert "\x1b" not in reply.text and "\x07" not in reply.text and "\x1b" not in reply.lines.source
        strips = [reply.lines.render_line(y) for y in range(reply.lines.size.height)]
        drawn = "\n".join(strip.text for strip in strips)
        assert "[bold red]red?[/]" in drawn and "[link=x]y[/link]" in drawn and "\x1b" not in drawn
        assert "click me (app.quit)" in drawn  # a link is its text and address, nothing to click
        for strip in strips:
            for segment in strip:
                style = segment.style
                assert style is None or (style.link is None and not style.meta), segment


async def test_hostile_tool_results_and_file_names_stay_plain(
    server: OpenAIServer, ops: SecureOperations, sandbox: LocalSandbox
) -> None:
    (sandbox.workspace / "[red]evil\x1b[2J.txt").write_text("")  # listed only: paths with escapes are refused
    (sandbox.workspace / "[red]plain.txt").write_text("\x1b]52;c;ZXZpbA==\x07[bold]x[/bold]\x1b[2J")
    calls = (Call("list_files", "{}", "c1"), Call("read_file", '{"file_path": "[red]plain.txt"}', "c2"))
    server.script(ToolCalls(calls), Reply("done"))
    app = assistant_app(server.base_url, ops)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await submit(pilot, "what is there?")
        cards = list(app.main.query(ToolCallCard))
        assert [c.status for c in cards] == ["ok", "ok"]
        text = chat_text(app)
        assert "\x1b" not in text and "[bold]x[/bold]" in text
        assert "[red]evil.txt" in text  # the listing's text had its escapes stripped by the pipeline
        log = app.main.query_one(ExecutionLog)
        rows = [log.render_line(y).text for y in range(log.size.height)]
        assert all("\x1b" not in row for row in rows) and any("read file:[red]plain.txt" in row for row in rows)
        labels = [str(node.label) for node in app.main.query_one("#files").root.children]  # type: ignore[attr-defined]
        assert labels == ["[red]evil\\x1b[2J.txt", "[red]plain.txt"]


async def test_program_output_is_inert(ops: SecureOperations) -> None:
    app = SandchatApp(ops)
    async with app.run_test(size=(120, 40)) as pilot:
        await submit(pilot, r"run code:print('\x1b]52;c;ZXZpbA==\x07[bold red]boom[/]\x1b[2J')")
        text = chat_text(app)
        assert "[bold red]boom[/]" in text and "\x1b" not in text and "\x07" not in text

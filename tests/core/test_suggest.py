"""Tool promotion without a model: plain requests -> commands, commands found in a model's reply."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.assistant.suggest import HOW_TO_CONFIGURE, Suggestion, find_commands, suggest
from core.commands import ListFiles, ReadFile, RunCode, WriteFile, format_command, parse


def texts(suggestions: list[Suggestion]) -> list[str]:
    return [s.text for s in suggestions]


@pytest.mark.parametrize(
    ("request_text", "first"),
    [
        # read
        ("what's in notes.txt", "read file:notes.txt"),
        ("What is in notes.txt?", "read file:notes.txt"),
        ("whats inside the file notes.txt", "read file:notes.txt"),
        ("show me README.md", "read file:README.md"),
        ("show notes.txt please", "read file:notes.txt"),
        ("open src/app.py", "read file:src/app.py"),
        ("cat notes.txt", "read file:notes.txt"),
        ("read the file notes", "list files:notes"),
        ("could you show me the contents of config.toml?", "read file:config.toml"),
        ("what does todo.md say", "read file:todo.md"),
        ("contents of data.csv", "read file:data.csv"),
        ('what\'s in "my notes.txt"', 'read file:"my notes.txt"'),
        ("show `src/main.rs`", "read file:src/main.rs"),
        # list
        ("show the files in src", "list files:src"),
        ("list the files in the src folder", "list files:src"),
        ("list files", "list files:"),
        ("please list files", "list files:"),
        ("ls", "list files:"),
        ("ls src", "list files:src"),
        ("what files are in src?", "list files:src"),
        ("which files are there", "list files:"),
        ("what's in the workspace?", "list files:"),
        ("what's in src", "list files:src"),
        ("show me src/", "list files:src"),
        ("show the contents of the directory docs", "list files:docs"),
        # run
        ("run print(2+2)", "run code:print(2+2)"),
        ("execute print('hi')", "run code:print('hi')"),
        ("run `print(1)`", "run code:print(1)"),
        ("run python: print(3)", "run code:print(3)"),
        ("run this python code: import sys; print(sys.version)", "run code:import sys; print(sys.version)"),
        ("run bash: echo hi", "run code[bash]:echo hi"),
        ("run ls -la", "run code[bash]:ls -la"),
        ("run hello.py", "run code[bash]:python3 hello.py"),
        ("run this:\n```bash\nls -la\n```", "run code[bash]:ls -la\n"),
        ("what is 2+2?", "run code:print(2+2)"),
        ("calculate (3 + 4) * 5", "run code:print((3 + 4) * 5)"),
        # delete
        ("delete old.log", "delete file:old.log"),
        ("could you delete the file old.log please", "delete file:old.log"),
        ("remove build/out.txt", "delete file:build/out.txt"),
        ("rm old.log", "delete file:old.log"),
        ("get rid of tmp.txt", "delete file:tmp.txt"),
        # info
        ("info on app.py", "info file:app.py"),
        ("details about app.py", "info file:app.py"),
        ("how big is data.csv", "info file:data.csv"),
        ("what's the size of data.csv?", "info file:data.csv"),
        ("when was app.py last modified", "info file:app.py"),
        ("does app.py exist?", "info file:app.py"),
        # search
        ("search the web for python asyncio", "search web:python asyncio"),
        ("search the internet for textual modal screens", "search web:textual modal screens"),
        ("google rust borrow checker", "search web:rust borrow checker"),
        ("look up the capital of Peru online", "search web:the capital of Peru"),
        ("search for sqlite wal mode", "search web:sqlite wal mode"),
        # write
        ("create hello.py with print(1)", "write file:hello.py content:print(1)"),
        ("create a file called notes.txt containing buy milk", "write file:notes.txt content:buy milk"),
        ("make a new file todo.md with the content: - [ ] ship", "write file:todo.md content:- [ ] ship"),
        ("write hello to greeting.txt", "write file:greeting.txt content:hello"),
        ("save 'a,b' to data.csv", "write file:data.csv content:a,b"),
        ("touch empty.txt", "write file:empty.txt content:"),
        ("create an empty file x.txt", "write file:x.txt content:"),
        # already a command
        ("read file:notes.txt", "read file:notes.txt"),
        ("  LIST FILES:src", "list files:src"),
    ],
)
def test_plain_requests_become_commands(request_text: str, first: str) -> None:
    found = suggest(request_text)
    assert found, request_text
    assert found[0].text == first
    assert all(s.why for s in found)


def test_a_name_without_extension_offers_the_folder_first_then_the_file() -> None:
    assert [s.command for s in suggest("what's in src")] == [ListFiles("src"), ReadFile("src")]


@pytest.mark.parametrize(
    "request_text",
    [
        "", "hello", "how are you?", "delete it", "remove the duplicates", "run the tests", "open the door",
        "how old is the universe", "print hello", "what's in /etc/passwd", "read ../secret.txt",
        "delete ~/.bashrc", "show me how to write a loop", "create", "run", "search", "write a poem",
    ],
)
def test_unrecognised_or_refused_requests_get_no_suggestion(request_text: str) -> None:
    assert suggest(request_text) == []


def test_written_content_keeps_its_lines() -> None:
    [found] = suggest("create script.py with ```\nimport os\nprint(os.getcwd())\n```")
    assert found.command == WriteFile("script.py", "import os\nprint(os.getcwd())\n")


def test_how_to_configure_names_the_ways_to_set_a_model() -> None:
    for needle in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "sandchat config set assistant.model",
                   "assistant.base_url", "Ollama", "11434"):
        assert needle in HOW_TO_CONFIGURE


# -- find_commands -------------------------------------------------------------------------------


REPLY = """I can't read it myself, but you can run `read file:notes.txt` to see it.

To create the script:

```
write file:hello.py content:
print("hello")
```

Then:
- list files:src
1. delete file:old.log
> run code:print(2+2)
$ search web:textual docs

Some text that mentions read file: in passing, and `not a command`.
```python
print("a python block is not a command")
```
"""


def test_commands_in_a_reply_are_found_in_order() -> None:
    found = find_commands(REPLY)
    assert texts(found) == [
        "read file:notes.txt",
        'write file:hello.py content:print("hello")\n',
        "list files:src",
        "delete file:old.log",
        "run code:print(2+2)",
        "search web:textual docs",
    ]
    assert found[1].why == "in a code block of the reply" and found[0].why == "written in the reply"


def test_a_block_of_one_line_commands_gives_each_of_them() -> None:
    found = find_commands("```\nread file:a.txt\nread file:b.txt\n```")
    assert [s.command for s in found] == [ReadFile("a.txt"), ReadFile("b.txt")]


def test_repeats_and_refused_paths_are_dropped() -> None:
    reply = "`read file:a.txt` and again `read file:a.txt`; never `read file:/etc/passwd` or `delete file:../x`"
    assert texts(find_commands(reply)) == ["read file:a.txt"]


def test_a_reply_without_commands_gives_nothing() -> None:
    assert find_commands("Sure! Here is a poem about the sea.") == []
    assert find_commands("```\nrun code:\n```") == []


def test_a_long_reply_offers_at_most_twenty() -> None:
    reply = "\n".join(f"read file:f{n}.txt" for n in range(50))
    found = find_commands(reply)
    assert len(found) == 20 and found[0].command == ReadFile("f0.txt")


def assert_offerable(found: list[Suggestion]) -> None:
    for suggestion in found:
        assert parse(suggestion.text) == suggestion.command
        assert format_command(suggestion.command) == suggestion.text


_ALPHABET = st.sampled_from(
    list("abc `:\n\t\"'[]()/.*-_~\\\x1b\u202e") + ["read file:", "write file:", "content:", "run code", "run code[",
                                                "```", "list files:", "search web:", "delete file:", "info file:",
                                                "..", "/workspace", "- ", "1. ", "```bash\n"]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_ALPHABET, max_size=40).map("".join))
def test_find_commands_never_raises_and_offers_only_what_parses(reply: str) -> None:
    assert_offerable(find_commands(reply))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_find_commands_on_arbitrary_text(reply: str) -> None:
    assert_offerable(find_commands(reply))


@settings(max_examples=400, deadline=None)
@given(st.lists(_ALPHABET | st.sampled_from(["what's in ", "delete ", "run ", "create ", " with ", "show the files in ",
                                              "please ", "notes.txt", "src", "?"]), max_size=20).map("".join))
def test_suggest_never_raises_and_offers_only_what_parses(text: str) -> None:
    assert_offerable(suggest(text))


def test_run_code_suggestions_keep_the_language() -> None:
    [found] = suggest("run node: console.log(1)")
    assert found.command == RunCode("console.log(1)", "node")

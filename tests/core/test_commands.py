"""The command language: examples per verb, error positions and messages, and round-trip properties."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from core.commands import (
    VERBS,
    Command,
    CommandSyntaxError,
    DeleteFile,
    GetFileInfo,
    ListFiles,
    ReadFile,
    RunCode,
    SearchWeb,
    WriteFile,
    format_command,
    parse,
)
from core.errors import ValidationError

# -- examples per verb -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("read file:notes.txt", ReadFile("notes.txt")),
        ("read file: src/app.py", ReadFile("src/app.py")),
        ("  read file:notes.txt  \n\n", ReadFile("notes.txt")),
        ("read file:my notes.txt", ReadFile("my notes.txt")),
        ("read file:it's.txt", ReadFile("it's.txt")),
        ("delete file:old.log", DeleteFile("old.log")),
        ("info file:/workspace/a.txt", GetFileInfo("/workspace/a.txt")),
        ("list files:src", ListFiles("src")),
        ("list files:", ListFiles("")),
        ("list files:   \n", ListFiles("")),
        ('list files:""', ListFiles("")),
        ("write file:a.txt content:hello", WriteFile("a.txt", "hello")),
        ("write file:a.txt content: hello", WriteFile("a.txt", "hello")),
        ("write file:a.txt content:  two spaces", WriteFile("a.txt", " two spaces")),
        ("write file:a.txt content:", WriteFile("a.txt", "")),
        ("write file:a.txt\ncontent:\nline 1\n", WriteFile("a.txt", "line 1\n")),
        ("run code:print(1)", RunCode("print(1)")),
        ("run code: print(1)", RunCode("print(1)")),
        ("run code:\nprint(1)\n", RunCode("print(1)\n")),
        ("run code:\r\nprint(1)", RunCode("print(1)")),
        ("run code[bash]:ls -la", RunCode("ls -la", "bash")),
        ("run code[node]: console.log(1)", RunCode("console.log(1)", "node")),
        ("run code[c++]:int main(){}", RunCode("int main(){}", "c++")),
        ("run code[python]:x", RunCode("x", "python")),
        ("search web:textual tutorial", SearchWeb("textual tutorial")),
        ("search web:   padded query \n", SearchWeb("padded query")),
        ("search web:line one\nline two", SearchWeb("line one\nline two")),
    ],
)
def test_parse_examples(text: str, expected: Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("READ FILE:x", ReadFile("x")),
        ("Read File:x", ReadFile("x")),
        ("read \t  file:x", ReadFile("x")),
        ("WRITE FILE:x CONTENT:y", WriteFile("x", "y")),
        ("Run Code[Bash]:ls", RunCode("ls", "bash")),
        ("LIST\tFILES:dir", ListFiles("dir")),
        ("Search Web:q", SearchWeb("q")),
    ],
)
def test_verbs_keywords_and_language_are_case_insensitive(text: str, expected: Command) -> None:
    assert parse(text) == expected


def test_data_spans_lines_and_holds_content_keyword_quotes_and_nul() -> None:
    data = 'first line\ncontent: not a keyword\n"quoted" and \'single\'\x00 ünïcödé 🙂\n\n  '
    assert parse(f"write file:notes.md content:{data}") == WriteFile("notes.md", data)


def test_data_starts_after_the_first_content_keyword_after_the_path() -> None:
    assert parse("write file:content:x content:content:y") == WriteFile("content:x", "content:y")


def test_code_keeps_trailing_whitespace_and_later_colons() -> None:
    code = "for i in range(3):\n    print(i)  \n\n"
    assert parse(f"run code:\n{code}") == RunCode(code)


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ('read file:"my notes.txt"', "my notes.txt"),
        ('read file:  "my notes.txt"  ', "my notes.txt"),
        ('read file:"say \\"hi\\".txt"', 'say "hi".txt'),
        ('read file:"back\\\\slash"', "back\\slash"),
        ('read file:"dir\\name"', "dir\\name"),
        ('read file:"two\nlines"', "two\nlines"),
        ("read file:'single quoted'", "single quoted"),
        ("read file:'no \\\" escapes'", 'no \\" escapes'),
    ],
)
def test_quoted_paths(text: str, path: str) -> None:
    assert parse(text) == ReadFile(path)


def test_write_with_quoted_path() -> None:
    assert parse('write file:"a b.txt"content:x') == WriteFile("a b.txt", "x")
    assert parse("write file:'a b.txt'  \n content: x") == WriteFile("a b.txt", "x")


# -- formatting ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cmd", "text"),
    [
        (ReadFile("a.txt"), "read file:a.txt"),
        (ReadFile("my notes.txt"), 'read file:"my notes.txt"'),
        (ReadFile('say "hi"\\'), 'read file:"say \\"hi\\"\\\\"'),
        (ReadFile("'x"), 'read file:"\'x"'),
        (DeleteFile("a"), "delete file:a"),
        (GetFileInfo("a"), "info file:a"),
        (ListFiles(""), "list files:"),
        (ListFiles("src"), "list files:src"),
        (WriteFile("a.txt", "hi"), "write file:a.txt content:hi"),
        (WriteFile("a.txt", " hi"), "write file:a.txt content:  hi"),
        (WriteFile("a.txt", "\nhi"), "write file:a.txt content: \nhi"),
        (WriteFile("a.txt", ""), "write file:a.txt content:"),
        (RunCode("print(1)"), "run code:print(1)"),
        (RunCode("ls", "bash"), "run code[bash]:ls"),
        (RunCode("\tx", "bash"), "run code[bash]: \tx"),
        (SearchWeb(" q "), "search web:q"),
    ],
)
def test_format_examples(cmd: Command, text: str) -> None:
    assert format_command(cmd) == text


@pytest.mark.parametrize(
    "cmd",
    [ReadFile(""), WriteFile("", "x"), RunCode(""), RunCode("  \n"), RunCode("x", "c#"), RunCode("x", "Py"),
     RunCode("x", "bash]:rm -rf /;#"), SearchWeb("  ")],
)
def test_inexpressible_commands_format_to_text_parse_rejects(cmd: Command) -> None:
    with pytest.raises(CommandSyntaxError):
        parse(format_command(cmd))


def test_verbs_tuple() -> None:
    assert VERBS == (
        "read file:", "write file:", "delete file:", "list files:", "info file:", "run code:", "search web:"
    )


# -- errors ----------------------------------------------------------------------------------------


def _error(text: str) -> CommandSyntaxError:
    with pytest.raises(CommandSyntaxError) as info:
        parse(text)
    assert info.value.text == text
    return info.value


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("raed file:x", "read file:"),
        ("lst files:", "list files:"),
        ("run cod:", "run code:"),
        ("run cod[bash]:ls", "run code:"),
        ("readfile:x", "read file:"),
        ("read:x", "read file:"),
        ("wrte file:x content:y", "write file:"),
        ("info files:x", "info file:"),
        ("search the web:x", "search web:"),
    ],
)
def test_unknown_verb_suggests_the_nearest(text: str, suggestion: str) -> None:
    err = _error(text)
    assert err.column == 0
    assert err.suggestion == suggestion
    assert err.pretty().splitlines()[-1] == f"did you mean `{suggestion}`?"
    assert f"(did you mean `{suggestion}`?)" in str(err)


@pytest.mark.parametrize("text", ["hello world", "rm file:x", "42", "#!/bin/sh"])
def test_unknown_verb_far_from_all_verbs_has_no_suggestion(text: str) -> None:
    err = _error(text)
    assert err.suggestion is None
    assert "did you mean" not in err.pretty()


def test_unknown_verb_column_skips_leading_whitespace() -> None:
    err = _error("  \n  raed file:x")
    assert err.column == 5
    assert err.pretty().splitlines()[1:3] == ["  raed file:x", "  ^"]


def test_error_is_a_validation_error_with_one_line_message() -> None:
    err = _error("raed file:x")
    assert isinstance(err, ValidationError)
    assert err.field == "command"
    assert str(err) == (
        "unknown command 'raed file:' at column 0: expected one of `read file:`, `write file:`, "
        "`delete file:`, `list files:`, `info file:`, `run code:`, `search web:` (did you mean `read file:`?)"
    )


def test_missing_colon_points_after_the_verb() -> None:
    err = _error("read file x")
    assert (err.column, err.expected) == (9, "`:`")
    assert "expected `:`" in str(err) and "column 9" in str(err)
    assert err.pretty().splitlines()[1:3] == ["read file x", "         ^"]


@pytest.mark.parametrize("text", ["", "   ", "\n\t\n"])
def test_empty_input_expects_a_verb(text: str) -> None:
    err = _error(text)
    assert err.column == len(text)
    assert all(f"`{verb}`" in err.expected for verb in VERBS)


@pytest.mark.parametrize(
    ("text", "column"),
    [('read file:"abc', 10), ("read file:   'abc", 13), ('write file:"a b content:x', 11), ('read file:"a\\"', 10)],
)
def test_unterminated_quote_points_at_the_opening_quote(text: str, column: int) -> None:
    err = _error(text)
    assert err.problem == "unterminated quote"
    assert err.column == column
    assert err.pretty().splitlines()[2] == " " * column + "^"


@pytest.mark.parametrize(
    ("text", "column"),
    [('read file:"a" b', 14), ("delete file:'a'x", 15), ("read file:a\nread file:b", 12), ('list files:""\n x', 15)],
)
def test_junk_after_the_path_is_an_error_at_the_junk(text: str, column: int) -> None:
    err = _error(text)
    assert err.column == column
    assert err.expected == "the end of the command"


@pytest.mark.parametrize(
    "text", ["read file:", "read file:   ", "delete file:\nx", 'info file:""', "write file:  \ncontent:x"]
)
def test_empty_path_is_an_error(text: str) -> None:
    assert _error(text).problem.startswith("missing path")


@pytest.mark.parametrize(
    ("text", "column"),
    [("write file:x", 12), ("write file:x  \n", 12), ("write file:x y content:z", 13),
     ("write file:my notes.txt content:z", 14), ("write file:xcontent:y", 21)],
)
def test_write_without_content_keyword(text: str, column: int) -> None:
    err = _error(text)
    assert (err.column, err.expected) == (column, "`content:`")
    assert "expected `content:`" in str(err)


@pytest.mark.parametrize(
    ("text", "column", "problem"),
    [
        ("run code[c#]:x", 10, "unexpected character in language name"),
        ("run code[py thon]:x", 11, "unexpected character in language name"),
        ("run code[python:x", 15, "unexpected character in language name"),
        ("run code[]:x", 9, "missing language in `run code[...]`"),
        ("run code[:x", 9, "missing language in `run code[...]`"),
    ],
)
def test_bad_language(text: str, column: int, problem: str) -> None:
    err = _error(text)
    assert (err.column, err.problem) == (column, problem)


@pytest.mark.parametrize("text", ["run code:", "run code: ", "run code:\n", "run code[bash]:  \n  "])
def test_nothing_to_run(text: str) -> None:
    err = _error(text)
    assert err.problem == "nothing to run"


@pytest.mark.parametrize("text", ["search web:", "search web:  \n "])
def test_empty_search(text: str) -> None:
    assert _error(text).problem == "empty search"


def test_pretty_reports_the_line_of_a_later_error() -> None:
    err = _error("list files:\n\n  junk")
    first, line, caret = err.pretty().splitlines()
    assert first.endswith("(line 3)")
    assert (line, caret) == ("  junk", "  ^")


def test_pretty_caret_follows_tabs_and_wide_characters() -> None:
    err = _error("read\tfile:\"日本\tx\" junk")
    _, line, caret = err.pretty().splitlines()
    assert line == "read\tfile:\"日本\tx\" junk"
    assert caret == "    \t      " + "    " + "\t" + "   ^"


def test_pretty_clips_long_lines_around_the_column() -> None:
    err = _error('read file:"' + "a" * 500 + '" junk')
    _, line, caret = err.pretty().splitlines()
    assert len(line) < 100
    assert line.startswith("…") and line.endswith('" junk')
    assert line[caret.index("^")] == "j"


def test_pretty_hides_control_characters() -> None:
    err = _error('read file:"\x1b[31m\x00" x')
    _, line, caret = err.pretty().splitlines()
    assert "\x1b" not in line and "\x00" not in line
    assert line[caret.index("^")] == "x"


# -- properties ------------------------------------------------------------------------------------

_TRICKY = st.sampled_from(
    [" ", "\t", "\n", "\r", "\r\n", '"', "'", "\\", "\\\"", "content:", " content: ", "code:", "read file:",
     "[", "]", ":", "\x00", "\u00a0", "\u2028", "\x1c", "é", "日本", "🙂"]
)
_TEXT = st.lists(st.one_of(st.characters(), _TRICKY)).map("".join)
_PATH = _TEXT.filter(bool)
_CODE = _TEXT.filter(lambda code: bool(code.strip()))
_QUERY = _TEXT.map(str.strip).filter(bool)
_LANGUAGE = st.one_of(st.sampled_from(["python", "bash", "node", "js", "c++"]),
                      st.from_regex(r"[a-z0-9_+-]+", fullmatch=True))

_COMMANDS: st.SearchStrategy[Command] = st.one_of(
    st.builds(ReadFile, _PATH),
    st.builds(WriteFile, _PATH, _TEXT),
    st.builds(DeleteFile, _PATH),
    st.builds(ListFiles, _TEXT),
    st.builds(GetFileInfo, _PATH),
    st.builds(RunCode, _CODE, _LANGUAGE),
    st.builds(SearchWeb, _QUERY),
)


@given(_COMMANDS)
@example(WriteFile("a b", "content: x\n"))
@example(ReadFile(' "x" '))
@example(ListFiles("\n"))
@example(RunCode("\r\nx", "bash"))
def test_format_then_parse_round_trips(cmd: Command) -> None:
    assert parse(format_command(cmd)) == cmd


@given(st.one_of(
    st.builds(ReadFile, _TEXT), st.builds(WriteFile, _TEXT, _TEXT), st.builds(ListFiles, _TEXT),
    st.builds(RunCode, _TEXT, _TEXT), st.builds(SearchWeb, _TEXT),
))
def test_format_never_yields_a_different_command(cmd: Command) -> None:
    try:
        parsed = parse(format_command(cmd))
    except CommandSyntaxError:
        return
    expected = SearchWeb(cmd.query.strip()) if isinstance(cmd, SearchWeb) else cmd
    assert parsed == expected


_COMMAND_LIKE = st.one_of(
    _TEXT,
    st.tuples(st.sampled_from(VERBS), _TEXT).map("".join),
    st.tuples(st.sampled_from(["run code[", "write file:a", 'read file:"', "READ  File"]), _TEXT).map("".join),
)


@given(_COMMAND_LIKE)
def test_parse_raises_only_command_syntax_errors(text: str) -> None:
    try:
        cmd = parse(text)
    except CommandSyntaxError as err:
        assert 0 <= err.column <= len(text)
        assert "\n" not in str(err)
        assert "^" in err.pretty()
    else:
        assert parse(format_command(cmd)) == cmd

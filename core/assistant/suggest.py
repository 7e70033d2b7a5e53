"""Tool promotion without a model: plain requests become suggested commands the person runs with one key.

``suggest("what's in notes.txt")`` offers ``read file:notes.txt``; ``find_commands(reply)`` finds the commands a
model wrote in its reply (inline code spans, fenced blocks, lines that start with a verb) so they can be offered
the same way. Every suggestion's ``text`` parses back to its ``command`` and its path passes the workspace path
validator: a suggestion that could only be refused is never offered. Nothing here runs anything.

The suggester is a handful of English patterns, not a language model: it recognises the common phrasings and
says nothing (an empty list) rather than guess at the rest.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from core.commands import (
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
from core.security.paths import PathPolicy

__all__ = ["HOW_TO_CONFIGURE", "Suggestion", "find_commands", "suggest"]

HOW_TO_CONFIGURE = """\
No AI model is configured, so sandchat suggests commands for what you type instead of answering.

To chat with a model, point sandchat at any OpenAI-compatible server:

  OpenAI          export OPENAI_API_KEY=sk-...
                  sandchat config set assistant.model gpt-4o-mini
  Other servers   export OPENAI_BASE_URL=https://your-server/v1   (Azure OpenAI, vLLM, LM Studio, llama.cpp)
                  or: sandchat config set assistant.base_url https://your-server/v1
  Ollama (local)  ollama pull llama3.1
                  sandchat config set assistant.base_url http://localhost:11434/v1
                  sandchat config set assistant.model llama3.1

The model must support tool calling to act on files. A key can also be saved with
`sandchat config set assistant.api_key ...` (the environment variable wins). Then start a new chat."""

MAX_FINDINGS = 20  # a reply full of commands is offered by its first ones, not as a wall of buttons


@dataclass(frozen=True)
class Suggestion:
    """A command offered to the person: the command, its canonical text and why it was suggested."""

    command: Command
    text: str
    why: str


# -- suggest -----------------------------------------------------------------------------------------

_PATH = r"""(?P<path>"[^"\n]+"|'[^'\n]+'|`[^`\n]+`|[^\s"'`]+?)[?.!,;:]*"""
_THE = r"(?:(?:the|my|this|that)\s+)?"
_FILE = r"(?:(?P<keyword>file)\s+(?:called\s+|named\s+)?)?"  # "the file X": X is a path even without a dot
_DIR_WORDS = r"(?:folder|directory|dir)"
_LANGS = {"python": "python", "python3": "python", "py": "python", "bash": "bash", "sh": "bash",
          "shell": "bash", "node": "node", "javascript": "node", "js": "node"}
_LANG = r"(?P<lang>python3?|py|bash|sh|shell|node|javascript|js)"
_SHELL_WORDS = frozenset("ls cat echo pwd grep find head tail wc python python3 pip pip3 node npm git du df env "
                         "whoami uname date sort mkdir touch cp mv sed awk curl".split())
_NOT_PATHS = frozenset("it this that them these those everything all files file folder directory dir here there "
                       "contents content something anything stuff".split())
_ROOT_WORDS = frozenset({"workspace", "the workspace", "here", "this folder", "this directory", "the root",
                         "the current folder", "the current directory", ".", "/workspace", "my files"})
_ARITHMETIC = re.compile(r"[\d\s.+\-*/%()]*\d[\d\s.+\-*/%()]*[+\-*/%][\d\s.+\-*/%()]*\d[\d\s.()]*")
# The body keeps its last line break: a file written from a block ends with one, as files do.
_FENCE = re.compile(r"```[ \t]*(?P<lang>[\w+-]*)[ \t]*\n(?P<body>.*?)```", re.DOTALL)

_POLITE = re.compile(
    r"^(?:(?:please|pls|kindly|hey|hi|ok|okay|so|now|then|and|also)\b[\s,]*"
    r"|(?:can|could|would|will)\s+you\s+(?:please\s+)?"
    r"|i\s+(?:want|need|would\s+like|'d\s+like)\s+(?:you\s+)?to\s+"
    r"|(?:let's|lets|let\s+me|help\s+me|go\s+ahead\s+and)\s+"
    r"|tell\s+me\s+(?=what|how|when|which))",
    re.IGNORECASE,
)
_TRAILING = re.compile(r"(?:[\s,]+(?:please|for\s+me|thanks|thank\s+you))+[\s?!.]*$", re.IGNORECASE)


def suggest(text: str) -> list[Suggestion]:
    """Commands that do what the plain request ``text`` asks; empty when it is not recognised."""
    if len(text) > 100_000:  # a pasted document is not a request
        return []
    try:
        command = parse(text)
    except CommandSyntaxError:
        pass
    else:
        return _offer([(command, "this is already a command")])
    request = _clean(text)
    found: list[tuple[Command, str]] = []
    for pattern, build in _PATTERNS:
        match = pattern.fullmatch(request)
        if match:
            found.extend(build(match))
    return _offer(found)


def _clean(text: str) -> str:
    """The request without greetings, "could you", "please" and the like around it."""
    request = text.strip().replace("\u2019", "'")  # "what’s" as phones type it
    previous = None
    while previous != request:
        previous = request
        request = _POLITE.sub("", request, count=1).strip()
    return _TRAILING.sub("", request).strip()


def _path_of(match: re.Match[str], *, strict: bool = False) -> str | None:
    """The path the request names, unquoted; None for words that are not paths ("it", "everything").

    ``strict``: for verbs that also take other objects ("remove the duplicates", "how old is the universe"), a
    bare word counts as a path only when it looks like one (a dot or slash) or follows the word "file".
    """
    raw = match["path"]
    if raw[:1] in "\"'`" and raw[-1:] == raw[:1] and len(raw) > 1:
        return raw[1:-1]
    if raw.lower() in _NOT_PATHS:
        return None
    if strict and not match.groupdict().get("keyword") and not re.search(r"[./]", raw):
        return None
    return raw


def _read(match: re.Match[str], *, strict: bool = False) -> list[tuple[Command, str]]:
    path = _path_of(match, strict=strict)
    if path is None:
        return []
    if path.lower() in _ROOT_WORDS:
        return [(ListFiles(""), "lists the workspace")]
    if path.endswith("/"):
        return [(ListFiles(path.rstrip("/")), f"{path} is a folder: lists what is in it")]
    if "." not in path.rsplit("/", 1)[-1]:  # no extension: most likely a folder, maybe a file such as Makefile
        return [(ListFiles(path), f"lists the folder {path}"), (ReadFile(path), f"shows the file {path}")]
    return [(ReadFile(path), f"shows what is in {path}")]


def _list(match: re.Match[str]) -> list[tuple[Command, str]]:
    raw = match.groupdict().get("path")
    if raw is None or raw.lower() in _ROOT_WORDS:
        return [(ListFiles(""), "lists the files in the workspace")]
    path = _path_of(match)
    return [] if path is None else [(ListFiles(path.rstrip("/")), f"lists the files in {path}")]


def _path_command(make: Callable[[str], Command], why: str) -> Callable[[re.Match[str]], list[tuple[Command, str]]]:
    """A builder for a one-path command whose verb also takes other objects, so the path must look like one."""

    def build(match: re.Match[str]) -> list[tuple[Command, str]]:
        path = _path_of(match, strict=True)
        return [] if path is None else [(make(path), why.format(path=path))]

    return build


def _unwrap(body: str) -> tuple[str, str | None]:
    """Code or content without the backticks or quotes around it, and a fence's language if it had one."""
    body = body.strip()
    fence = _FENCE.fullmatch(body)
    if fence:
        return fence["body"], fence["lang"].lower() or None
    for mark in ("``", "`", '"', "'"):
        if len(body) > 2 * len(mark) and body.startswith(mark) and body.endswith(mark):
            return body[len(mark) : -len(mark)], None
    return body, None


def _run(match: re.Match[str]) -> list[tuple[Command, str]]:
    code, fence_lang = _unwrap(match["body"])
    named = match["lang"] or fence_lang
    if named:
        language = _LANGS.get(named.lower(), named.lower())
        return [(RunCode(code, language), f"runs the {language} code")]
    return _guess_run(code)


def _guess_run(code: str) -> list[tuple[Command, str]]:
    """Code whose language the request did not name: a script file, a shell command, Python or nothing."""
    first = code.split(maxsplit=1)[0] if code.split() else ""
    script = {".py": "python3", ".sh": "bash", ".js": "node"}.get(code[-3:].lower())
    if script and " " not in code:
        return [(RunCode(f"{script} {code}", "bash"), f"runs the script {code} in the workspace")]
    if first in _SHELL_WORDS and "(" not in first:
        return [(RunCode(code, "bash"), "runs the shell command")]
    if _ARITHMETIC.fullmatch(code):
        return [(RunCode(f"print({code.strip()})"), "works out the sum in Python")]
    if re.search(r"[()=\[\]]|^(?:import|from|for|while|if|def|class|print)\b", code):
        return [(RunCode(code), "runs the Python code")]
    return []  # "run the tests" is not code; better no suggestion than a wrong one


def _calculate(match: re.Match[str]) -> list[tuple[Command, str]]:
    return [(RunCode(f"print({match['body'].strip()})"), "works out the sum in Python")]


def _write(match: re.Match[str]) -> list[tuple[Command, str]]:
    path = _path_of(match)
    if path is None:
        return []
    body = match.groupdict().get("body")
    content = _unwrap(body)[0] if body is not None else ""
    what = f"writes {len(content)} characters to {path}" if content else f"creates the empty file {path}"
    return [(WriteFile(path, content), what)]


def _search(match: re.Match[str]) -> list[tuple[Command, str]]:
    query = _unwrap(match["query"])[0].strip().rstrip("?.!")
    return [(SearchWeb(query), "searches the web")] if query else []


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE | re.DOTALL)


_Build = Callable[[re.Match[str]], list[tuple[Command, str]]]
# Order matters only for the order of suggestions; every pattern that matches contributes.
_PATTERNS: tuple[tuple[re.Pattern[str], _Build], ...] = (
    (_compile(rf"(?:create|make|write|save|add)\s+(?:an?\s+)?(?:new\s+)?{_FILE}{_PATH}\s+"
              r"(?:with|containing|that\s+(?:contains|says)|saying)\s+(?:(?:the\s+)?(?:content|text|code)\s*:?\s*)?"
              r"(?P<body>.+)"), _write),
    (_compile(rf"(?:write|save|put)\s+(?P<body>.+?)\s+(?:to|into|in)\s+{_THE}{_FILE}{_PATH}"), _write),
    (_compile(rf"(?:create|make|touch)\s+(?:an?\s+)?(?:new\s+)?(?:empty\s+)?(?:file\s+(?:called\s+|named\s+)?"
              r"|(?=\S*\.\w+[?.!]*$))"
              rf"{_PATH}"), _write),
    (_compile(rf"(?:run|execute|exec|eval|evaluate)\s+(?:(?:this|the\s+following)\b\s*)?(?:{_LANG}(?=[\s:])\s*)?"
              r"(?:(?:code|command|script|snippet)\b\s*)?:?\s*(?P<body>\S.*)"), _run),
    (_compile(r"(?:calculate|compute|what(?:'?s|\s+is))\s+(?P<body>" + _ARITHMETIC.pattern + ")[?.!]*"),
     _calculate),
    (_compile(rf"(?:list|show|display|see|view|print)\s+(?:me\s+)?(?:all\s+)?{_THE}(?:files|entries|{_DIR_WORDS})"
              rf"(?:\s+(?:in|inside|of|under|at)\s+{_THE}(?:{_DIR_WORDS}\s+)?{_PATH}(?:\s+{_DIR_WORDS})?)?[?.!]*"),
     _list),
    (_compile(rf"(?:list|show|display)\s+(?:me\s+)?{_THE}contents\s+of\s+{_THE}{_DIR_WORDS}\s+{_PATH}"), _list),
    (_compile(rf"(?:ls|dir|list)(?:\s+{_THE}{_PATH})?"), _list),
    (_compile(rf"(?:what|which)\s+files\s+(?:are\s+|do\s+i\s+have\s+)?(?:there\s*)?(?:(?:in|inside|under)\s+"
              rf"{_THE}(?:{_DIR_WORDS}\s+)?{_PATH})?[?.!]*"), _list),
    (_compile(r"(?:what(?:'?s|\s+is)\s+(?:in|inside)\s+(?P<path>the\s+workspace|here|this\s+(?:folder|directory)"
              r"|the\s+current\s+(?:folder|directory))|what\s+is\s+there)[?.!]*"), _list),
    (_compile(rf"(?:what(?:'?s|\s+is)\s+in(?:side)?|read|cat)\s+{_THE}(?:contents?\s+of\s+{_THE})?{_FILE}{_PATH}"),
     _read),
    (_compile(rf"(?:show(?:\s+me)?|open|display|view|print|type)\s+{_THE}(?:contents?\s+of\s+{_THE})?{_FILE}{_PATH}"),
     functools.partial(_read, strict=True)),
    (_compile(rf"(?:contents?\s+of|what\s+does)\s+{_THE}{_FILE}{_PATH}(?:\s+(?:say|contain|hold))?[?.!]*"), _read),
    (_compile(rf"(?:delete|remove|rm|erase|del|trash|get\s+rid\s+of)\s+{_THE}{_FILE}{_PATH}"),
     _path_command(DeleteFile, "deletes {path}")),
    (_compile(rf"(?:(?:file\s+)?info(?:rmation)?|details|metadata|stats?)\s+(?:on|about|for|of)?\s*{_THE}{_FILE}"
              rf"{_PATH}"), _path_command(GetFileInfo, "shows the size, type and dates of {path}")),
    (_compile(rf"how\s+(?:big|large|old|long)\s+is\s+{_THE}{_FILE}{_PATH}"),
     _path_command(GetFileInfo, "shows the size and dates of {path}")),
    (_compile(rf"(?:what(?:'?s|\s+is)\s+the\s+)?(?:size|modification\s+time|mtime|permissions|age)\s+of\s+{_THE}"
              rf"{_FILE}{_PATH}"), _path_command(GetFileInfo, "shows the size and dates of {path}")),
    (_compile(rf"(?:when\s+was|does)\s+{_THE}{_FILE}{_PATH}\s+(?:last\s+)?(?:modified|changed|edited|updated|"
              r"exists?)[?.!]*"), _path_command(GetFileInfo, "shows whether {path} exists, its size and dates")),
    (_compile(r"(?:search|look\s+up|google|find|browse)\s+(?:on\s+)?(?:the\s+)?(?:web|internet|online)\s+"
              r"(?:for\s+)?(?P<query>.+)"), _search),
    (_compile(r"(?:search(?:\s+for)?|look\s+up|google|find)\s+(?P<query>.+?)\s+(?:(?:on|in)\s+the\s+"
              r"(?:web|internet)|online)[?.!]*"), _search),
    (_compile(r"(?:google|web\s+search|search\s+for|look\s+up)\s+(?P<query>.+)"), _search),
)


# -- find_commands ---------------------------------------------------------------------------------

_VERB_AT_START = re.compile(
    r"[ \t]*(?:(?:read|write|delete|info)[ \t]+file|list[ \t]+files|run[ \t]+code(?:\[[^\]\n]*\])?|search[ \t]+web):",
    re.IGNORECASE,
)
_INLINE = re.compile(r"(?<!`)(`{1,2})(?!`)(?P<body>[^`\n]+?)(?<!`)\1(?!`)")
_LINE_MARKERS = re.compile(r"[ \t]*(?:(?:[-*+>]|\d{1,3}[.)]|\$)[ \t]+)*")


def find_commands(model_text: str) -> list[Suggestion]:
    """Commands of the command language written in a model's reply, in order of appearance; never raises."""
    text = model_text[:200_000]  # a reply this long is not looked through any further
    found = sorted(_candidates(text), key=lambda pair: pair[0])
    return _offer([(command, why) for _, command, why in found])[:MAX_FINDINGS]


def _candidates(text: str) -> Iterator[tuple[int, Command, str]]:
    """(position, command, why) for every block, inline span and line that parses as a command."""
    outside: list[tuple[int, str]] = []
    last = 0
    for fence in _FENCE.finditer(text):
        outside.append((last, text[last : fence.start()]))
        last = fence.end()
        yield from _from_block(fence.start("body"), fence["body"])
    outside.append((last, text[last:]))
    for start, chunk in outside:
        for span in _INLINE.finditer(chunk):
            yield from _parsed(start + span.start(), span["body"], "written in the reply")
        yield from _from_lines(start, chunk, "written in the reply")


def _from_block(start: int, body: str) -> Iterator[tuple[int, Command, str]]:
    """A fenced block is one command (content may span lines) or, failing that, one command per line."""
    if not _VERB_AT_START.match(body.lstrip("\n")):
        return
    whole = list(_parsed(start, body.lstrip("\n"), "in a code block of the reply"))
    yield from whole or _from_lines(start, body, "in a code block of the reply")


def _from_lines(start: int, chunk: str, why: str) -> Iterator[tuple[int, Command, str]]:
    offset = 0
    for line in chunk.split("\n"):
        rest = _LINE_MARKERS.sub("", line, count=1)  # the leftmost match is at 0: the pattern matches ""
        if _VERB_AT_START.match(rest):
            yield from _parsed(start + offset, rest, why)
        offset += len(line) + 1


def _parsed(position: int, text: str, why: str) -> Iterator[tuple[int, Command, str]]:
    if not _VERB_AT_START.match(text):
        return
    try:
        yield position, parse(text), why
    except CommandSyntaxError:
        return


# -- offering ----------------------------------------------------------------------------------------

_PATHS = PathPolicy()


def _offer(found: Iterable[tuple[Command, str]]) -> list[Suggestion]:
    """Suggestions whose text parses back to the command and whose path the validator accepts; no repeats."""
    offered: dict[str, Suggestion] = {}
    for command, why in found:
        text = format_command(command)
        if text in offered or not _round_trips(command, text) or not _path_ok(command):
            continue
        offered[text] = Suggestion(command, text, why)
    return list(offered.values())


def _round_trips(command: Command, text: str) -> bool:
    try:
        return parse(text) == command
    except CommandSyntaxError:
        return False


def _path_ok(command: Command) -> bool:
    try:
        match command:
            case ReadFile(path) | WriteFile(path, _) | DeleteFile(path) | GetFileInfo(path):
                _PATHS.normalize(path)
            case ListFiles(directory):
                _PATHS.normalize(directory, allow_root=True)
    except ValidationError:
        return False
    return True

"""PathPolicy.normalize: what it accepts, what it refuses and why, and properties over arbitrary text."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.backends.base import display_path
from core.errors import PathRejected, ValidationError
from core.security.paths import PathPolicy, is_within
from core.security.sanitize import find_control_chars

POLICY = PathPolicy()

ACCEPTED = [
    ("notes.txt", "notes.txt"),
    ("src/app.py", "src/app.py"),
    ("./a", "a"),
    ("a/./b", "a/b"),
    ("a//b", "a/b"),
    ("a/b/", "a/b"),
    ("a/b/../c", "a/c"),
    ("a/b/c/../../d", "a/d"),
    ("/workspace/a/b", "a/b"),
    ("/workspace/a/b/", "a/b"),
    ("//workspace/a", "a"),
    ("/./workspace/a", "a"),
    ("/workspace/workspace", "workspace"),
    ("workspace/x", "workspace/x"),
    ("...", "..."),  # real files can be named "..." or "...."
    ("a/....", "a/...."),
    ("..a/b..", "..a/b.."),
    ("a/~b", "a/~b"),
    ("a/C:", "a/C:"),
    ("C:foo", "C:foo"),
    ("100%.txt", "100%.txt"),
    ("%41.txt", "%41.txt"),  # decodes to 'A': not a traversal character
    ("%e4%b8%ad.txt", "%e4%b8%ad.txt"),
    ("naïve/日本語.txt", "naïve/日本語.txt"),
    ("a/….txt", "a/….txt"),
    ("a．txt", "a．txt"),  # a full-width dot inside a name cannot become a traversal
    ("with space/ x ", "with space/ x "),
    ("0x2e0x2e/etc", "0x2e0x2e/etc"),
]

REJECTED = [
    ("..", "goes above the workspace root"),
    ("../etc/passwd", "goes above the workspace root"),
    ("a/../../b", "goes above the workspace root"),
    ("a/../..", "goes above the workspace root"),
    ("/workspace/..", "goes above the workspace root"),
    ("/workspace/../etc", "goes above the workspace root"),
    ("/workspace/../workspace/a", "goes above the workspace root"),
    ("/etc/passwd", "absolute path outside /workspace"),
    ("/", "absolute path outside /workspace"),
    ("/workspacefoo", "absolute path outside /workspace"),
    ("/workspacefoo/a", "absolute path outside /workspace"),
    ("/../workspace", "absolute path outside /workspace"),
    ("/tmp/../workspace/a", "absolute path outside /workspace"),
    ("//server/share", "not a share"),
    ("~", "starts with '~'"),
    ("~/notes.txt", "starts with '~'"),
    ("~root/.ssh", "starts with '~'"),
    ("~/../etc", "starts with '~'"),
    ("./~", "starts with '~'"),
    ("/workspace/~", "starts with '~'"),
    ("a\x00b", "NUL byte"),
    ("notes.txt\x00.png", "NUL byte at position 9"),
    ("a\x1b[31mb", "control character \\x1b at position 1"),
    ("a\nb", "control character \\n"),
    ("a\tb", "control character \\t"),
    ("a\rb", "control character \\r"),
    ("a\x7fb", "control character \\x7f"),
    ("a\x9bb", "C1 control character \\x9b"),
    ("a\x85b", "C1 control character \\x85"),
    ("a\u2028b", "line separator U+2028"),
    ("a\u2029b", "paragraph separator U+2029"),
    ("invoice\u202etxt.exe", "bidirectional-text control U+202E"),
    ("a\u202ab", "bidirectional-text control U+202A"),
    ("a\u2066b", "bidirectional-text control U+2066"),
    ("a\u2069b", "bidirectional-text control U+2069"),
    ("a\\b", "contains a backslash"),
    ("..\\..\\windows\\win.ini", "Windows-style traversal"),
    ("\\\\server\\share", "contains a backslash"),
    ("C:\\boot.ini", "Windows drive letter"),
    ("c:/windows", "Windows drive letter"),
    ("C:", "Windows drive letter"),
    ("./C:/x", "Windows drive letter"),
    ("%2e%2e/etc/passwd", "percent-encoded path"),
    ("%2E%2E%2Fetc", "percent-encoded path"),
    ("..%2fetc", "percent-encoded path"),
    ("..%5c..%5cwin.ini", "percent-encoded path"),
    ("..%c0%af..%c0%afetc", "percent-encoded path"),
    ("%c0%ae%c0%ae/etc", "percent-encoded path"),
    ("%e0%80%ae%e0%80%ae/etc", "percent-encoded path"),
    ("%f0%80%80%ae", "percent-encoded path"),
    ("%f8%80%80%80%ae", "percent-encoded path"),
    ("%252e%252e%252f", "percent-encoded path"),
    ("%25252e", "percent-encoded path"),
    ("%%32%65%%32%65/etc", "percent-encoded path"),
    ("%uff0e%uff0e/etc", "percent-encoded path"),
    ("%u002e%u002e", "percent-encoded path"),
    ("passwd%00.png", "percent-encoded path"),
    ("%2500", "percent-encoded path"),
    ("\uff0e\uff0e/etc", "look-alike"),
    ("a/\u2025/b", "look-alike"),
    ("a\uff0fb", "look-alike"),
    ("a\uff3cb", "look-alike"),
    ("a\ud800b", "lone surrogate"),
    ("x" * 256, "longer than 255 bytes"),
    ("é" * 128, "longer than 255 bytes"),  # 128 characters, 256 bytes
    ("a/" * 2049, "longer than 4096 bytes"),
]


@pytest.mark.parametrize(("path", "expected"), ACCEPTED)
def test_accepts_and_normalises(path: str, expected: str) -> None:
    assert POLICY.normalize(path) == expected


@pytest.mark.parametrize(("path", "reason"), REJECTED)
def test_rejects_with_a_specific_reason(path: str, reason: str) -> None:
    with pytest.raises(PathRejected) as caught:
        POLICY.normalize(path, allow_root=True)
    assert reason in caught.value.reason
    assert isinstance(caught.value, ValidationError) and caught.value.field == "path"


def test_the_error_keeps_the_path_and_says_what_to_do() -> None:
    with pytest.raises(PathRejected) as caught:
        POLICY.normalize("../secret")
    assert caught.value.path == "../secret"
    assert "'../secret'" in str(caught.value) and "/workspace" in caught.value.hint


@pytest.mark.parametrize("path", ["", ".", "./", "/workspace", "/workspace/", "a/..", "//workspace"])
def test_the_root_is_for_listing_only(path: str) -> None:
    assert POLICY.normalize(path, allow_root=True) == ""
    with pytest.raises(PathRejected) as caught:
        POLICY.normalize(path)  # allow_root defaults to False: a forgotten flag refuses the root
    expected = "empty path" if path == "" else "workspace root itself"
    assert expected in caught.value.reason


def test_a_long_control_path_is_clipped_in_the_message() -> None:
    with pytest.raises(PathRejected) as caught:
        POLICY.normalize("a" * 100_000)
    assert len(str(caught.value)) < 300


def _relative_path_of(size: int) -> str:
    """A normal relative path of exactly ``size`` ASCII bytes (names of 200 characters)."""
    text = "/".join(["y" * 200] * (size // 200 + 1))[:size]
    return text[:-1] + "z" if text.endswith("/") else text


def test_limits_are_counted_in_utf8_bytes_at_the_edges() -> None:
    assert POLICY.normalize("x" * 255) == "x" * 255
    assert POLICY.normalize("é" * 127 + "x") == "é" * 127 + "x"  # 255 bytes
    room = 4096 - len("/workspace/")  # the limit is on the path the sandbox sees
    longest = _relative_path_of(room)
    assert POLICY.normalize(longest) == longest
    assert POLICY.normalize("/workspace/" + longest) == longest
    with pytest.raises(PathRejected, match="longer than 4096 bytes"):
        POLICY.normalize(_relative_path_of(room + 1))
    with pytest.raises(PathRejected, match="longer than 4096 bytes"):
        POLICY.normalize(_relative_path_of(room - 1) + "é")  # one character, two bytes


def test_limits_can_be_configured() -> None:
    small = PathPolicy(max_path_length=30, max_name_length=5)
    assert small.normalize("abcde/fghij") == "abcde/fghij"
    with pytest.raises(PathRejected, match="longer than 5 bytes"):
        small.normalize("abcdef")
    assert small.normalize("a/b/c/d/e/f/g/h/i/j") == "a/b/c/d/e/f/g/h/i/j"  # /workspace/a/.../j: 30 bytes
    with pytest.raises(PathRejected, match="longer than 30 bytes"):
        small.normalize("a/b/c/d/e/f/g/h/i/jk")
    with pytest.raises(PathRejected, match="longer than 30 bytes"):
        small.normalize("./" * 16)


def test_display_is_the_user_facing_path() -> None:
    assert POLICY.display("") == "/workspace"
    assert POLICY.display("src/app.py") == "/workspace/src/app.py"
    assert POLICY.display(POLICY.normalize("/workspace/a/../b")) == "/workspace/b"


# --- properties --------------------------------------------------------------------------------------------

NAMES = st.sampled_from(
    ["a", "b", "", ".", "..", "...", "~", "~x", "C:", "workspace", "%2e", "%", "%25", "\\", "\x1b", "\x00",
     "\u202e", "．", "‥", "…", " ", "é", "a%41"]
)  # fmt: skip
PATHISH = st.tuples(
    st.sampled_from(["", "/", "//", "/workspace/", "./"]), st.lists(NAMES | st.text(max_size=4))
).map(lambda parts: parts[0] + "/".join(parts[1]))
ANY_PATH = st.text() | PATHISH


def _check_result(rel: str) -> None:
    full = posixpath.normpath(posixpath.join("/workspace", rel))
    assert full == "/workspace" or full.startswith("/workspace/")
    assert full == display_path(rel)  # already normal: no '.', '..' or '//' left
    names = rel.split("/")
    assert ".." not in names and "." not in names
    assert rel == "" or "" not in names
    assert "\x00" not in rel and find_control_chars(rel) == []
    assert POLICY.normalize(rel, allow_root=True) == rel
    assert POLICY.normalize("/workspace/" + rel, allow_root=True) == rel


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_PATH)
def test_any_text_is_refused_or_lands_inside_the_workspace(path: str) -> None:
    try:
        rel = POLICY.normalize(path, allow_root=True)
    except PathRejected:
        return
    _check_result(rel)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", ".", ".."]), max_size=8))
def test_dot_dot_is_resolved_or_refused_never_clamped(names: list[str]) -> None:
    path = "/".join(names)
    depth, escapes = 0, False
    for name in names:
        depth += {"..": -1, ".": 0}.get(name, 1)
        escapes = escapes or depth < 0
    if escapes:
        with pytest.raises(PathRejected, match="above the workspace root"):
            POLICY.normalize(path, allow_root=True)
    else:
        assert POLICY.normalize(path, allow_root=True) == posixpath.normpath(path).lstrip(".").strip("/")


# --- is_within ---------------------------------------------------------------------------------------------


def test_is_within_compares_by_components_not_string_prefix(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (tmp_path / "rootfoo").mkdir()
    assert is_within(root, root)
    assert is_within(root, root / "sub" / "new-file")
    assert is_within(str(root), str(root / "sub"))
    assert not is_within(root, tmp_path / "rootfoo")
    assert not is_within(root, tmp_path)
    assert not is_within(root, root / ".." / "rootfoo")


def test_is_within_follows_symlinks(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "escape").symlink_to(outside)
    (root / "inner").symlink_to(root / ".")
    assert not is_within(root, root / "escape")
    assert not is_within(root, root / "escape" / "file")
    assert is_within(root, root / "inner" / "file")
    linked_root = tmp_path / "link-to-root"
    linked_root.symlink_to(root)
    assert is_within(linked_root, root / "x")


def test_is_within_survives_symlink_loops(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    os.symlink("loop", root / "loop")
    assert is_within(root, root / "loop") in (True, False)  # no exception, whatever the platform decides

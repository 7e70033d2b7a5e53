"""Risk findings for code and shell commands, shown before anything runs; the code is never changed.

``classify(code, language)`` returns ``RiskFinding``s sorted by position; ``code[start:end]`` is exactly the
text that matched. The rules read Python and shell alike, so a shell command inside ``os.system("...")`` or
``subprocess.run("...", shell=True)`` is found too. The few shell rules that would misfire on Python names
(a bare ``env`` or ``su``) run only when the language is a shell. This is a reviewer's aid, not a sandbox:
it flags the well-known shapes of harm and cannot prove code safe.

| rule | severity | what it flags |
|---|---|---|
| recursive-delete | critical | ``rm`` of ``/``, ``/*``, ``~``, ``$HOME`` or a system directory; |
| | | ``--no-preserve-root``; ``shutil.rmtree`` of those; ``find / ... -delete`` / ``-exec rm`` |
| fork-bomb | critical | ``:(){ :|:& };:`` under any name; ``while True: os.fork()`` |
| fork-bomb | high | ``while true; do ... & done`` |
| download-exec | critical | ``curl``/``wget ... | sh`` (or bash, python, perl ...); ``bash <(curl ...)``; |
| | | ``sh -c "$(curl ...)"``; ``exec(urlopen(...))``, ``exec(requests.get(...))`` |
| reverse-shell | critical | ``/dev/tcp/``, ``/dev/udp/``; ``nc``/``ncat -e``/``-c``; ``socat ... exec:``; |
| | | ``mkfifo ... nc``; ``os.dup2(sock.fileno(), ...)`` |
| reverse-shell | high | ``pty.spawn("/bin/sh")`` |
| reverse-shell | medium | ``sh -i`` (interactive shell) |
| credential-access | high | ``/etc/shadow``, ``/etc/sudoers``, ``~/.ssh``, ``id_rsa``, |
| | | ``.aws/credentials``, ``.netrc``, ``.git-credentials``, ``.docker/config.json``, |
| | | ``.kube/config``, ``.pgpass``, ``/proc/*/environ`` |
| credential-access | medium | ``/etc/passwd``; environment dumps: ``env``/``printenv`` alone (shell only), |
| | | ``print(os.environ)``, ``os.system("env")`` |
| privilege-escalation | high | ``chmod +s``/``u+s``/``4755``; ``os.setuid(0)``; ``stat.S_ISUID`` |
| privilege-escalation | medium | ``sudo``, ``su``, ``doas``, ``pkexec``, ``chown root`` |
| disk-destruction | critical | ``mkfs``; ``dd ... of=/dev/sd*``; ``> /dev/sda``; ``shred /dev/...`` |
| disk-destruction | high | ``wipefs``; ``open("/dev/sda")`` |
| crypto-mining | high | ``xmrig`` and other miners; ``stratum+tcp://`` |
| kill-all | high | ``kill -9 -1``, ``kill -- -1``, ``killall5``, ``os.kill(-1, ...)`` |
| kill-all | medium | ``pkill -9``, ``killall -9`` |
| persistence | high | appending to ``~/.bashrc`` and other start-up files; ``authorized_keys`` |
| persistence | medium | ``crontab``, ``systemctl enable``, ``/etc/cron*``, ``/etc/rc.local``, |
| | | ``/etc/systemd/system`` |
| network-scan | medium | ``nmap``, ``masscan``, ``zmap``, ``rustscan`` |
| obfuscation | critical | ``base64 -d | sh``, ``xxd -r | sh`` |
| obfuscation | high | ``eval "$(... base64 -d)"``; ``exec(base64.b64decode(...))`` and other decoders; |
| | | ``exec("\\x..\\x..")`` hex-escaped strings |
| pipe-to-shell | medium | anything piped into ``sh``/``bash`` |
| history-tampering | medium | ``history -c``, ``unset HISTFILE``, ``HISTFILE=/dev/null``, |
| | | ``set +o history``, ``.bash_history`` |
| dangerous-python | medium | ``shell=True``; ``import ctypes``; ``__import__("os")`` and similar |
| dangerous-python | low | ``os.system``, ``os.popen``, ``os.exec*``, ``os.spawn*`` |

Every pattern is linear in practice: gaps are bounded (``{0,200}``) or possessive, and command words are
anchored by a look-behind, so a long run of one word cannot restart a long scan at every character.
Overlapping findings of one rule are merged, keeping the earlier (or the more severe) one.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["RiskFinding", "Severity", "classify"]

Severity = Literal["low", "medium", "high", "critical"]
_Scope = Literal["any", "shell", "python"]
_RANK: dict[Severity, int] = {"low": 0, "medium": 1, "high": 2, "critical": 3}
_SHELLS = frozenset({"bash", "sh", "shell", "zsh", "dash", "ksh", "console"})
_PYTHONS = frozenset({"python", "python3", "py"})


@dataclass(frozen=True)
class RiskFinding:
    """One risky construct: which rule, how bad, why, and where (``code[start:end]``)."""

    rule: str
    severity: Severity
    message: str
    start: int
    end: int


@dataclass(frozen=True)
class _Pattern:
    rule: str
    severity: Severity
    message: str
    source: str  # compiled on first use, so importing this module costs nothing
    scope: _Scope


def _rule(rule: str, severity: Severity, message: str, *alternatives: str, scope: _Scope = "any") -> _Pattern:
    return _Pattern(rule, severity, message, "|".join(alternatives), scope)


def _cmd(*words: str, before: str = r"[\w./-]") -> str:
    """Any of ``words`` where it starts a token: not after a character of ``before``.

    The check is a fixed-width look-behind placed after the word rather than before it, so that the regex
    engine can still jump straight to the word's first letter instead of trying every position.
    """
    return "(?:" + "|".join(f"{re.escape(w)}(?<!{before}{re.escape(w)})" for w in words) + ")"


def _word(*words: str) -> str:
    """Any of ``words`` at a word boundary on the left, like ``\\bword`` but fast (see ``_cmd``)."""
    return _cmd(*words, before=r"\w")


# Shared fragments. _END: an argument ends here.
_END = r"(?=[\s;&|'\")`]|$)"
# _ARGS: up to 12 whole arguments of one command. Each argument is taken possessively, so one start costs at
# most 12 arguments and each argument is read by at most 12 starts: linear, however long the arguments are.
_ARGS = r"(?:[^\s;&|]++\s++){0,12}?"
_TOKENS = r"(?:[^\s;&|]++[\s;&|]++){0,24}?"  # the same across a short pipeline: mkfifo f; cat f | sh | nc
_QUOTE = r"[\"']"
_NAME_CHAR = r"[\w-]"
_CMD_END = r"(?=[ \t]*(?:$|[\n;&|)]))"  # nothing else follows in this command
_CMD_POS = r"(?:^|[\n;&|`(])[ \t]*"  # start of a shell command; the finding is the named group "hit"
_SYSDIRS = r"(?:bin|boot|dev|etc|home|lib|lib32|lib64|opt|proc|root|sbin|srv|sys|usr|var)"
_HOME = r"(?:~|\$HOME|\$\{HOME\})"
_ROOT_OR_HOME = rf"(?:/|/{_SYSDIRS}|{_HOME})/?\*?"
_DEL_TARGET = rf"(?:\"{_ROOT_OR_HOME}\"|'{_ROOT_OR_HOME}'|{_ROOT_OR_HOME}){_END}"  # quotes only in pairs
_SHELLS_CMD = _cmd("/usr/bin/bash", "/bin/bash", "/usr/bin/sh", "/bin/sh", "bash", "zsh", "dash", "ksh", "sh")
_SHELL = r"(?:sudo\s+(?:-\S+\s+){0,3})?(?:/usr)?(?:/bin/)?(?:ba|z|da|k|fi)?sh"
_INTERPRETER = rf"(?:{_SHELL}|python[\d.]*|perl|ruby|node|php)"
_DEVICE = r"/dev/(?:sd|hd|vd|xvd|nvme|mmcblk|disk|md|dm-|mapper/|loop|mem\b|kmem\b)\w*"
_DECODER = rf"(?:{_cmd('base64')}\s+(?:-\w+\s+)*(?:-d|--decode|-D)|{_cmd('xxd')}\s+(?:-\w+\s+)*-r)"
_STARTUP_FILE = r"\.(?:bashrc|bash_profile|bash_login|profile|zshrc|zprofile)\b"
_ROOT_OR_HOME_EXPR = (  # a Python expression naming / , ~ or a system directory
    rf"[rbuRBU]?{_QUOTE}(?:/|/{_SYSDIRS}|~)/?{_QUOTE}"
    rf"|(?:os\.path\.)?expanduser\(\s*{_QUOTE}~/?{_QUOTE}\s*\)"
    rf"|(?:pathlib\.)?Path\.home\(\s*\)|(?:pathlib\.)?Path\(\s*{_QUOTE}/{_QUOTE}\s*\)"
    rf"|os\.(?:environ\[\s*|getenv\(\s*){_QUOTE}HOME{_QUOTE}"
)
_NET_TOOLS = _cmd("nc", "ncat", "netcat", "telnet", "openssl")
_MINERS = ("xmrig", "xmr-stak", "minerd", "cpuminer", "cgminer", "bfgminer", "ethminer", "nbminer", "t-rex")
_DECODE_CALLS = (
    r"(?:(?:base64|codecs|zlib|marshal|bz2|lzma|gzip|binascii|bytes)\.)?"
    r"(?:b64decode|b32decode|b16decode|b85decode|a85decode|urlsafe_b64decode|decode|decompress|loads"
    r"|fromhex|unhexlify)\s*\("
)

# fmt: off
_DESTRUCTION: tuple[_Pattern, ...] = (
    _rule("recursive-delete", "critical", "deletes the root, home or a system directory",
          rf"{_cmd('rm')}\s+{_ARGS}{_DEL_TARGET}"),
    _rule("recursive-delete", "critical", "rm --no-preserve-root deletes from /", r"--no-preserve-root\b"),
    _rule("recursive-delete", "critical", "shutil.rmtree of the root, home or a system directory",
          rf"{_word('rmtree')}\s*\(\s*(?:{_ROOT_OR_HOME_EXPR})"),
    _rule("recursive-delete", "critical", "find over / or home that deletes what it finds",
          rf"{_cmd('find')}\s+{_QUOTE}?(?:/|/{_SYSDIRS}|{_HOME})/?{_QUOTE}?"
          rf"\s+{_ARGS}-(?:delete|exec\s+rm)\b"),
    _rule("fork-bomb", "critical", "fork bomb: a function that pipes into itself in the background",
          r"(?<![\w-])(?P<fn>[A-Za-z_][\w-]*+|:)\s*\(\s*\)\s*\{\s*(?P=fn)\s*\|\s*(?P=fn)\s*&"
          r"(?:\s*;?\s*\}\s*;?\s*(?P=fn)(?![\w-]))?"),
    _rule("fork-bomb", "critical", "fork bomb: os.fork() in an endless loop",
          rf"{_word('while')}\s+(?:True|1)\s*:(?:[^\n]{{0,80}}+\n){{0,4}}?"
          r"[ \t]*(?:\w+\s*=\s*)?os\.fork\s*\("),
    _rule("fork-bomb", "high", "endless loop starting background processes",
          rf"{_word('while')}\s+(?:true|:)\s*;\s*do\s[^\n]{{0,200}}?&\s*done\b"),
    _rule("disk-destruction", "critical", "creates a file system, erasing the device",
          rf"{_cmd('mkfs')}(?:\.\w+)?{_END}"),
    _rule("disk-destruction", "critical", "writes over a disk device",
          rf"{_cmd('dd')}\s+{_ARGS}of=\s*{_DEVICE}",
          rf">\s*{_DEVICE}",
          rf"{_cmd('shred')}\s+{_ARGS}{_DEVICE}"),
    _rule("disk-destruction", "high", "erases file-system signatures", rf"{_cmd('wipefs')}{_END}"),
    _rule("disk-destruction", "high", "opens a disk device",
          rf"{_word('open')}\s*\(\s*[rbuRBU]?{_QUOTE}{_DEVICE}"),
    _rule("kill-all", "high", "kills every process it can",
          rf"{_cmd('kill')}\s+(?:(?:-(?:9|KILL|SIGKILL)|-s\s+(?:9|KILL|SIGKILL)|--)\s+)*-1{_CMD_END}",
          rf"{_cmd('killall5')}\b",
          rf"{_word('os')}\.kill\s*\(\s*-1\s*,"),
    _rule("kill-all", "medium", "force-kills processes by name",
          rf"{_cmd('pkill', 'killall')}\s+(?:-\w+\s+)*?-(?:9|KILL|SIGKILL)\b"),
)

_REMOTE: tuple[_Pattern, ...] = (
    _rule("download-exec", "critical", "downloads a script and runs it",
          rf"{_cmd('curl', 'wget')}\s[^\n|]{{0,300}}+\|\s*{_INTERPRETER}{_END}",
          rf"(?:{_SHELLS_CMD}|{_cmd('source', '.')})\s+<\(\s*(?:curl|wget)\b",
          rf"(?:{_SHELLS_CMD}\s+-c|{_cmd('eval')}|{_cmd('python', 'python3')}\s+-c|{_cmd('perl')}\s+-e)"
          rf"\s+{_QUOTE}?\$\(\s*(?:curl|wget)\b",
          r"\$\(\s*`\s*(?:curl|wget)\b"),
    _rule("download-exec", "critical", "executes code fetched from the network",
          rf"{_word('exec', 'eval')}\s*\(\s*(?:(?:requests|httpx)\.get"
          r"|(?:urllib\.request\.|urllib2\.|request\.)?urlopen)\s*\("),
    _rule("reverse-shell", "critical", "raw network connection through /dev/tcp or /dev/udp",
          r"/dev/(?:tcp|udp)/"),
    _rule("reverse-shell", "critical", "netcat running a program for the remote side",
          rf"{_cmd('nc', 'ncat', 'netcat')}(?:\.\w+)?\s+{_ARGS}"
          r"(?:-[A-Za-z]*[ec]|--(?:sh-|lua-)?exec)(?=\s|$)"),
    _rule("reverse-shell", "critical", "socat running a program for the remote side",
          rf"{_cmd('socat')}\s+{_ARGS}(?:[^\s;&|:]++:)?{_QUOTE}?(?i:exec|system):"),
    _rule("reverse-shell", "critical", "named pipe wired to a network tool",
          rf"{_cmd('mkfifo', 'mknod')}\s+{_TOKENS}{_NET_TOOLS}(?=\s)"),
    _rule("reverse-shell", "critical", "socket duplicated onto the standard streams",
          rf"{_word('dup2')}\s*\(\s*[\w.]+\.fileno\s*\(\s*\)"),
    _rule("reverse-shell", "high", "spawns an interactive shell on a pseudo-terminal",
          rf"{_word('pty')}\.spawn\s*\(\s*\[?\s*{_QUOTE}(?:/usr)?(?:/bin/)?(?:ba|z|da)?sh{_QUOTE}"),
    _rule("reverse-shell", "medium", "interactive shell", rf"{_SHELLS_CMD}\s+-i\b"),
    _rule("crypto-mining", "high", "crypto-currency miner",
          rf"{_cmd(*_MINERS, before=_NAME_CHAR)}(?![\w-])",
          r"stratum\+(?:tcp|ssl|tls)://"),
    _rule("network-scan", "medium", "network scanner",
          rf"{_cmd('nmap', 'masscan', 'zmap', 'rustscan')}(?![\w-])"),
)

_SECRETS: tuple[_Pattern, ...] = (
    _rule("credential-access", "high", "reads password hashes or sudo rules",
          r"/etc/(?:g?shadow|sudoers|master\.passwd)\b"),
    _rule("credential-access", "medium", "reads the system account list", r"/etc/passwd\b"),
    _rule("credential-access", "high", "reads SSH keys or configuration",
          rf"{_cmd('.ssh', before=_NAME_CHAR)}\b",
          rf"{_word('id_rsa', 'id_dsa', 'id_ecdsa', 'id_ed25519')}\b"),
    _rule("credential-access", "high", "reads stored credentials",
          r"\.aws/credentials\b",
          rf"{_cmd('.netrc', '.git-credentials', '.pgpass', before=_NAME_CHAR)}\b",
          r"\.docker/config\.json\b",
          r"\.kube/config\b"),
    _rule("credential-access", "high", "reads a process environment", r"/proc/(?:self|\d+)/environ\b"),
    _rule("credential-access", "medium", "dumps the environment (it often holds secrets)",
          rf"{_CMD_POS}(?P<hit>env|printenv)(?=[ \t]*(?:$|[\n;&|>)`]))",
          scope="shell"),
    _rule("credential-access", "medium", "dumps the environment (it often holds secrets)",
          rf"{_word('print', 'pprint', 'json.dumps')}\s*\(\s*"
          r"(?:dict\s*\(\s*os\.environ\s*\)|os\.environ(?:\.items\s*\(\s*\))?)\s*[,)]",
          rf"{_word('os.system', 'os.popen', 'subprocess.')}\w*"
          rf"\s*\(\s*\[?\s*{_QUOTE}(?:env|printenv){_QUOTE}"),
    _rule("privilege-escalation", "high", "sets the setuid or setgid bit",
          rf"{_cmd('chmod')}\s+(?:-\w+\s+)*(?:[ugoa]*[+=][rwxXt]*s[rwxXt]*|0?[2-7][0-7]{{3}})(?=\s)",
          rf"{_word('S_ISUID', 'S_ISGID')}\b"),
    _rule("privilege-escalation", "high", "switches to the root user",
          rf"{_word('os')}\.set(?:e?uid|e?gid|res[ug]id)\s*\(\s*0\b"),
    _rule("privilege-escalation", "medium", "runs a command as another user",
          rf"{_cmd('sudo', 'doas', 'pkexec')}(?=\s)",
          rf"{_cmd('su')}(?=\s+(?:-[lc]?(?:\s|$)|root\b))"),
    _rule("privilege-escalation", "medium", "switches user",
          rf"{_CMD_POS}(?P<hit>su){_CMD_END}",
          scope="shell"),
    _rule("privilege-escalation", "medium", "gives files to root",
          rf"{_cmd('chown')}\s+(?:-\w+\s+)*(?:root|0)(?::\w*)?(?=\s)"),
    _rule("persistence", "high", "writes to a shell start-up file",
          rf">>?\s*{_QUOTE}?(?:{_HOME}|/root|/home/[\w.-]+)/{_STARTUP_FILE}"),
    _rule("persistence", "high", "touches SSH authorized keys", rf"{_word('authorized_keys')}\b"),
    _rule("persistence", "medium", "schedules or installs something that outlives the run",
          rf"{_cmd('crontab')}{_END}",
          rf"{_cmd('systemctl')}\s+(?:--\S+\s+)*enable\b",
          r"/etc/(?:cron(?:tab|\.\w+)?|rc\.local|init\.d|systemd/system)\b"),
    _rule("history-tampering", "medium", "hides commands from the shell history",
          rf"{_cmd('history')}\s+-c\b",
          rf"{_cmd('unset')}\s+HISTFILE\b",
          rf"{_word('HISTFILE', 'HISTSIZE', 'HISTFILESIZE')}=(?:0\b|/dev/null\b|{_QUOTE}{{2}})",
          rf"{_word('set')}\s+\+o\s+history\b",
          rf"{_cmd('.bash_history', '.zsh_history', before=_NAME_CHAR)}\b"),
)

_HIDDEN_CODE: tuple[_Pattern, ...] = (
    _rule("obfuscation", "critical", "decodes hidden data and runs it in a shell",
          rf"{_DECODER}\b[^\n|]{{0,200}}+\|\s*{_INTERPRETER}{_END}"),
    _rule("obfuscation", "high", "evaluates base64-decoded text",
          rf"{_word('eval')}\s[^\n]{{0,100}}?base64\s+(?:-\w+\s+)*(?:-d|--decode|-D)\b"),
    _rule("obfuscation", "high", "executes decoded or decompressed data",
          rf"{_word('exec', 'eval')}\s*\(\s*{_DECODE_CALLS}"),
    _rule("obfuscation", "high", "executes a hex-escaped string",
          rf"{_word('exec', 'eval')}\s*\(\s*[rbuRBU]{{0,2}}{_QUOTE}(?:\\x[0-9a-fA-F]{{2}}){{8,}}"),
    _rule("pipe-to-shell", "medium", "pipes text into a shell", rf"\|\s*{_SHELL}{_END}"),
    _rule(
        "dangerous-python", "medium", "runs a command through the shell", rf"{_word('shell')}\s*=\s*True\b"
    ),
    _rule("dangerous-python", "medium", "loads native code with ctypes",
          rf"{_word('import', 'from')}\s+ctypes\b"),
    _rule("dangerous-python", "medium", "imports a powerful module by name, hiding it from a reader",
          rf"{_word('__import__')}\s*\(\s*"
          rf"{_QUOTE}(?:os|subprocess|pty|socket|ctypes|shutil|sys|builtins){_QUOTE}"),
    _rule("dangerous-python", "low", "runs a shell command",
          rf"{_word('os')}\.(?:system|popen|exec[lv]p?e?|spawn[lv]p?e?|posix_spawnp?)\s*\("),
)
# fmt: on

_PATTERNS: tuple[_Pattern, ...] = _DESTRUCTION + _REMOTE + _SECRETS + _HIDDEN_CODE


@functools.cache
def _compiled() -> tuple[tuple[_Pattern, re.Pattern[str]], ...]:
    return tuple((pattern, re.compile(pattern.source)) for pattern in _PATTERNS)


def _scopes(language: str) -> frozenset[_Scope]:
    name = language.strip().lower()
    if name in _SHELLS:
        return frozenset({"any", "shell"})
    if name in _PYTHONS:
        return frozenset({"any", "python"})
    return frozenset({"any"})


def _find(pattern: _Pattern, regex: re.Pattern[str], code: str) -> list[RiskFinding]:
    findings = []
    has_hit = "hit" in regex.groupindex
    for match in regex.finditer(code):
        start, end = match.span("hit") if has_hit else match.span()
        if end > start:
            findings.append(RiskFinding(pattern.rule, pattern.severity, pattern.message, start, end))
    return findings


def _merge(findings: list[RiskFinding]) -> list[RiskFinding]:
    """Drop a finding that overlaps an earlier kept one of the same rule and is no more severe."""
    ordered = sorted(findings, key=lambda f: (f.rule, f.start, -_RANK[f.severity], -f.end))
    kept: list[RiskFinding] = []
    for finding in ordered:
        last = kept[-1] if kept else None
        overlaps = last is not None and last.rule == finding.rule and finding.start < last.end
        if overlaps and last is not None and _RANK[finding.severity] <= _RANK[last.severity]:
            continue
        kept.append(finding)
    return kept


def classify(code: str, language: str = "python") -> list[RiskFinding]:
    """Every risky construct in ``code``, sorted by start (then end); never edits the code."""
    scopes = _scopes(language)
    findings = [
        found
        for pattern, regex in _compiled()
        if pattern.scope in scopes
        for found in _find(pattern, regex, code)
    ]
    return sorted(_merge(findings), key=lambda f: (f.start, f.end, f.rule))

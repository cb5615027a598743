"""The README's examples, run exactly as written (issue 13): every fenced block after a
`<!-- test: run ... -->` comment is run line by line in one bash session, in README order,
against a live genqd and the stand-in, with PATH pointing at the built genqd and genqctl, in a
temporary directory holding the files the examples name (photos/, cats/, renders/). Each line
must exit 0 with no command in it failing. A block after `<!-- test: output ... -->` holds
`$ COMMAND` lines followed by what the README says they print: the output must have the same
lines, job ids aside."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

from genqtest import BIN_DIR, FakeApi, run_tests, toml_value, write_images

SOURCE = Path(os.environ.get("GENQ_SOURCE_DIR", Path(__file__).resolve().parents[2]))
ID_CHARS = "[0-9a-hjkmnp-tv-z]{20}"  # a job id: 20 characters of lower-case base32
ID = re.compile(r"\b%s\b" % ID_CHARS)


def marked_blocks(text):
    """[(kind, [lines])] for each fenced block right after a <!-- test: KIND ... --> line."""
    blocks = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"<!-- test: (run|output)\b.*-->$", line)
        if not m:
            continue
        assert lines[i + 1].startswith("```"), "README line %d: no fence after the marker" % (i + 2)
        end = next(j for j in range(i + 2, len(lines)) if lines[j].startswith("```"))
        blocks.append((m.group(1), lines[i + 2:end]))
    return blocks


def steps(blocks):
    """[(command, expected output lines or None)] in README order."""
    out = []
    for kind, lines in blocks:
        if kind == "run":
            out += [(ln, None) for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
            continue
        for ln in lines:
            if ln.startswith("$ "):
                out.append((ln[2:], []))
            else:
                assert out and out[-1][1] is not None, "output before a $ line: %r" % ln
                out[-1][1].append(ln)
    return out


def script(commands, work):
    """One bash script: each command as written, its output, status and failures recorded; after
    a command that starts a program in the background, wait (bounded) until genqd answers."""
    parts = ["set -o pipefail", "trap 'echo \"$BASH_COMMAND\" >> \"$__fails\"' ERR"]
    for n, cmd in enumerate(commands):
        parts += ['__fails=%s/%d.failed' % (work, n), "{ %s" % cmd,
                  "} > %s/%d.out 2> %s/%d.err" % (work, n, work, n),
                  "echo $? > %s/%d.rc" % (work, n)]
        if re.search(r"&\s*(#.*)?$", cmd):
            parts += ["echo $! > %s/genqd.pid" % work,
                      "for __i in $(seq 300); do genqctl status >/dev/null 2>&1 && break; "
                      "sleep 0.1; done"]
    return "\n".join(parts) + "\n"


def fixtures(cwd):
    """The files the examples name."""
    for d, names in (("photos", ["a", "b", "c"]), ("cats", ["a"]), ("renders", ["r1", "r2"])):
        for i, p in enumerate(write_images(cwd / d, len(names), prefix="x")):
            p.rename(cwd / d / (names[i] + ".png"))
    (cwd / "cats" / "broken.png").write_bytes(b"this is not an image\n")


def environment(tmp, api):
    home = tmp / "home"
    (home / ".config" / "genq").mkdir(parents=True)
    (home / ".config" / "genq" / "genq.toml").write_text("\n".join([
        "[api]", "base_url = %s" % toml_value(api.base_url),
        "ca_file = %s" % toml_value(api.ca_file), "timeout = 5",
        "[limits]", "requests_per_window = 50", "window = 1", "poll_interval = 0.2",
        "lockout = 1", ""]))
    (tmp / "run").mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("XDG_", "GENQ_", "STABILITY_")) and k not in
           ("STATE_DIRECTORY", "RUNTIME_DIRECTORY", "CREDENTIALS_DIRECTORY", "INVOCATION_ID",
            "JOURNAL_STREAM", "NOTIFY_SOCKET", "TERM")}
    # GENQ_CONFIG: as root genqd would read /etc/genq/genq.toml, not the user's file.
    env.update(HOME=str(home), XDG_RUNTIME_DIR=str(tmp / "run"), NO_COLOR="1",
               GENQ_CONFIG=str(home / ".config" / "genq" / "genq.toml"),
               PATH="%s:%s" % (BIN_DIR, env.get("PATH", "/usr/bin:/bin")))
    return env


def shape(line):
    """The README's output line as a pattern: literal, but any job id stands for any id."""
    return re.compile("^" + ID_CHARS.join(re.escape(p) for p in ID.split(line)) + "$")


def test_readme_examples_run_as_written(tmp):
    found = steps(marked_blocks((SOURCE / "README.md").read_text()))
    commands = [c for c, _ in found]
    assert any(c.startswith("genqd &") for c in commands), commands
    assert any("jq" in c for c in commands) and len(commands) >= 10, commands
    work = tmp / "work"
    work.mkdir()
    cwd = tmp / "cwd"
    fixtures(cwd)
    # The README's key is "sk-..." (exported by its first line): the stand-in takes it.
    with FakeApi(BIN_DIR, tmp / "api", keys=["sk-..."], gen_time=0.5, limit=50, window=1,
                 lockout=1, poll_interval=0.2) as api:
        (work / "examples.sh").write_text(script(commands, work))
        try:
            r = subprocess.run(["bash", "--norc", "--noprofile", str(work / "examples.sh")],
                               cwd=cwd, env=environment(tmp, api), capture_output=True,
                               text=True, timeout=300)
        finally:
            pid_file = work / "genqd.pid"
            if pid_file.exists():  # the genqd the examples started in the background
                pid = int(pid_file.read_text())
                os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline and os.path.exists("/proc/%d" % pid) and \
                        "zombie" not in Path("/proc/%d/status" % pid).read_text().lower():
                    time.sleep(0.05)
        assert r.returncode == 0, r
        for n, (cmd, expected) in enumerate(found):
            out = (work / ("%d.out" % n)).read_text()
            err = (work / ("%d.err" % n)).read_text()
            rc = int((work / ("%d.rc" % n)).read_text())
            failed = work / ("%d.failed" % n)
            assert rc == 0 and not failed.exists(), "README line failed: %s\n-> %d %s\n%s%s" % (
                cmd, rc, failed.read_text() if failed.exists() else "", out, err)
            print("  ok: %s" % cmd)
            if expected is not None:
                got = out.splitlines()
                assert len(got) == len(expected) and all(
                    shape(e).match(g) for e, g in zip(expected, got)), \
                    "README shows for %s:\n%s\nbut it printed:\n%s" % (cmd, "\n".join(expected),
                                                                      out)
    assert (cwd / "cat.mp4").stat().st_size > 0


if __name__ == "__main__":
    run_tests([test_readme_examples_run_as_written])

"""Shell completions and manual pages (issue 13, item 7): the bash completion really completes
(commands, options, option values, files), the zsh and fish files load in their shells (fish
completes too), every page renders without a warning, genq.toml(5) names every key the config
parser accepts (read from lib/core/config*, so a new key without documentation fails here),
genqctl(1) names every command and option genqctl has (read from its own help), and
`cmake --install` and the .deb put every file where the shells and man look for them."""

import gzip
import os
import re
import shutil
import subprocess
from pathlib import Path

from genqtest import BIN_DIR, run_tests

SOURCE = Path(os.environ.get("GENQ_SOURCE_DIR", Path(__file__).resolve().parents[2]))
GENQCTL = str(BIN_DIR / "genqctl")
COMPLETIONS = BIN_DIR / "completions"
MAN_DIR = BIN_DIR / "man"
PAGES = ["genqd.8", "genqctl.1", "genq.toml.5"]
INSTALLED = ["usr/share/bash-completion/completions/genqctl",
             "usr/share/zsh/vendor-completions/_genqctl",
             "usr/share/fish/vendor_completions.d/genqctl.fish",
             "usr/share/man/man8/genqd.8.gz", "usr/share/man/man1/genqctl.1.gz",
             "usr/share/man/man5/genq.toml.5.gz"]


def commands():
    """genqctl's visible commands, from its own help (CLI11's "Subcommands:" section)."""
    out = subprocess.run([GENQCTL, "help"], capture_output=True, text=True, check=True).stdout
    section = out.split("Subcommands:", 1)[1]
    names = [ln.split()[0] for ln in section.splitlines() if ln.startswith("  ") and ln.strip()]
    assert "submit" in names and "wait" in names and len(names) >= 10, names
    return names


def options_of(command):
    """The long options of one command, from `genqctl COMMAND --help`."""
    out = subprocess.run([GENQCTL, command, "--help"], capture_output=True, text=True,
                         check=True).stdout
    opts = set(re.findall(r"^\s+(?:-\w,)?(--[a-z][a-z0-9-]*)", out, re.M))
    return sorted(opts - {"--help"})


def bash_complete(*words, cwd=None):
    """COMPREPLY of the installed-to-be bash completion for `genqctl WORDS...` (the last word
    is the one being completed)."""
    script = COMPLETIONS / "bash" / "genqctl"
    line = ("source %s; COMP_WORDS=(genqctl %s); COMP_CWORD=%d; _genqctl; "
            "printf '%%s\\n' \"${COMPREPLY[@]}\"" %
            (script, " ".join("'%s'" % w for w in words), len(words)))
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", line], capture_output=True,
                       text=True, cwd=cwd, timeout=20)
    assert r.returncode == 0 and r.stderr == "", r
    return [w for w in r.stdout.splitlines() if w]


def test_bash_completes(tmp):
    r = subprocess.run(["bash", "--norc", "-c", "source %s; complete -p genqctl" %
                        (COMPLETIONS / "bash" / "genqctl")], capture_output=True, text=True)
    assert r.stdout.strip() == "complete -F _genqctl genqctl", r  # registered for genqctl
    assert bash_complete("su") == ["submit"]
    assert sorted(bash_complete("")) == sorted(commands())  # every command, the hidden one not
    assert "completion" not in bash_complete("co")
    assert bash_complete("--json", "submit", "--ki") == ["--kind"]  # after a global option
    assert bash_complete("--socket", "/tmp/x", "li") == ["list"]     # its value is no command
    assert bash_complete("list", "--state", "r") == ["running"]
    assert "upscale" in bash_complete("submit", "--kind", "ups")
    # --state=su: bash splits the word at "=" (COMP_WORDBREAKS) before the function sees it.
    assert bash_complete("list", "--state", "=", "su") == ["submitting", "succeeded"]
    assert bash_complete("list", "--state", "=", "") == [
        "queued", "submitting", "running", "succeeded", "failed", "canceled"]
    assert sorted(bash_complete("help", "s")) == ["status", "submit"]
    assert bash_complete("resume", "--b") == ["--budget"]
    assert "--socket" in bash_complete("wait", "--so")  # global options after the command
    (tmp / "cat.png").write_bytes(b"x")
    assert bash_complete("submit", "ca", cwd=tmp) == ["cat.png"]
    assert bash_complete("output", "ID", "-o", "ca", cwd=tmp) == ["cat.png"]
    assert bash_complete("submit", "--seed", "") == []  # a number: nothing to offer
    # Every option of every command completes (the script is written from the definitions).
    for cmd in commands():
        offered = bash_complete(cmd, "--")
        for opt in options_of(cmd):
            assert opt in offered, (cmd, opt, offered)


def test_zsh_and_fish_load(tmp):
    zsh_file = COMPLETIONS / "zsh" / "_genqctl"
    fish_file = COMPLETIONS / "fish" / "genqctl.fish"
    assert zsh_file.read_text().startswith("#compdef genqctl\n")
    if shutil.which("zsh"):
        r = subprocess.run(["zsh", "-n", str(zsh_file)], capture_output=True, text=True)
        assert r.returncode == 0 and r.stderr == "", r
        # Loaded as zsh loads it: compinit, the file on $fpath, autoloaded by its #compdef.
        fpath = tmp / "zfunc"
        fpath.mkdir()
        shutil.copy(zsh_file, fpath / "_genqctl")
        r = subprocess.run(["zsh", "-f", "-c", "fpath=(%s $fpath); autoload -U compinit; "
                            "compinit -u -d %s/zcompdump; print -r -- $_comps[genqctl]"
                            % (fpath, tmp)], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and r.stdout.strip() == "_genqctl", r
    else:
        print("  SKIP: zsh is not installed (zsh -n not run)")
    if shutil.which("fish"):
        r = subprocess.run(["fish", "--no-execute", str(fish_file)], capture_output=True,
                           text=True)
        assert r.returncode == 0 and r.stderr == "", r

        def fish_complete(line):
            r = subprocess.run(["fish", "--no-config", "-c", "source %s; complete -C %s" %
                                (fish_file, "'%s'" % line)], capture_output=True, text=True,
                               timeout=30)
            assert r.returncode == 0, r
            return [ln.split("\t")[0] for ln in r.stdout.splitlines()]
        assert fish_complete("genqctl su") == ["submit"]
        assert "running" in fish_complete("genqctl list --state r")
        assert "--kind" in fish_complete("genqctl submit --ki")
        assert sorted(fish_complete("genqctl ")) == sorted(commands())
    else:
        print("  SKIP: fish is not installed (fish -n not run)")


def test_man_pages_render_without_warnings(tmp):
    if not shutil.which("scdoc"):
        print("  SKIP: scdoc is not installed, the build made no manual pages")
        return
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    for page in PAGES:
        path = MAN_DIR / page
        assert path.exists(), "not built: %s" % path
        r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(path)],
                           capture_output=True, text=True)
        assert r.returncode == 0 and r.stderr == "", (page, r.stderr)
        if shutil.which("man"):
            r = subprocess.run(["man", "--warnings", "-l", str(path)], capture_output=True,
                               text=True, env=env, timeout=30)
            assert r.returncode == 0 and r.stderr == "", (page, r.stderr)
            name = page.rsplit(".", 1)[0]
            assert re.search(r"^NAME\n\s+%s - " % re.escape(name), r.stdout, re.M), r.stdout[:300]
            assert "SEE ALSO" in r.stdout


def config_keys():
    """{table: [keys]} the config parser accepts, from its own tables (lib/core/config_toml.hpp;
    every file of the parser is read, so the lists may move between them)."""
    text = "".join(p.read_text() for p in sorted((SOURCE / "lib/core").glob("config*.[ch]pp")))
    tables = {"Top": "", "Api": "api", "Key": "keys", "Limits": "limits", "Retry": "retry",
              "Watch": "watch", "Budget": "budget", "Http": "http", "Store": "store",
              "Retention": "retention"}
    found = dict(re.findall(r"const Names k(\w+)Keys = \{([^}]*)\};", text))
    assert set(found) >= set(tables), found.keys()  # the parser's layout changed: update here
    assert set(found) <= set(tables), "a new table %s: document it in genq.toml(5) and add it" \
        " here" % (set(found) - set(tables))
    out = {}
    for name, table in tables.items():
        keys = re.findall(r'"([a-z_]+)"', found[name])
        out[table] = [k for k in keys if k not in tables.values()] if table == "" else keys
    return out


def page_sections(scd):
    """The page's sections by heading ("TOP-LEVEL KEYS", "[api]", "[[keys]]", ...)."""
    parts = re.split(r"^# (.+)$", scd, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def test_toml_page_names_every_key(tmp):
    sections = page_sections((SOURCE / "docs/man/genq.toml.5.scd").read_text())
    keys = config_keys()
    assert sum(len(v) for v in keys.values()) > 30, keys
    for table, names in keys.items():
        heading = "TOP-LEVEL KEYS" if table == "" else \
            ("[[%s]]" % table if table in ("keys", "watch") else "[%s]" % table)
        assert heading in sections, "genq.toml(5) has no section %s" % heading
        for key in names:
            assert re.search(r"^\*%s\* = " % re.escape(key), sections[heading], re.M), \
                "genq.toml(5), %s: key %s is not documented" % (heading, key)


def test_genqctl_page_names_every_command_and_option(tmp):
    scd = (SOURCE / "docs/man/genqctl.1.scd").read_text()
    sections = page_sections(scd)
    body = sections["COMMANDS"]
    # A command's entry: from its "*name*" line (at the start of a line) to the next one.
    entries = dict(re.findall(r"^\*([a-z]+)\*(.*?)(?=^\*[a-z]+\*|\Z)", body, re.M | re.S))
    for cmd in commands():
        assert cmd in entries, "genqctl(1) does not describe the command %s" % cmd
        for opt in options_of(cmd):
            assert "*%s*" % opt in entries[cmd], "genqctl(1), %s: option %s missing" % (cmd, opt)
    for opt in ("--socket", "--json", "--version"):
        assert "*%s*" % opt in sections["GLOBAL OPTIONS"], opt
    for code in "01234":
        assert "*%s*" % code in sections["EXIT STATUS"], code


def test_install_and_deb_carry_them(tmp):
    root = tmp / "root"
    env = dict(os.environ, DESTDIR=str(root))
    r = subprocess.run(["cmake", "--install", str(BIN_DIR), "--prefix", "/usr"], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    expected = INSTALLED if shutil.which("scdoc") else INSTALLED[:3]
    for rel in expected:
        assert (root / rel).is_file(), "not installed: /" + rel
    assert (root / INSTALLED[0]).read_text() == (COMPLETIONS / "bash" / "genqctl").read_text()
    for rel in expected[3:]:  # the pages, gzipped as Debian asks: the built page inside
        page = MAN_DIR / Path(rel).name[:-3]
        assert gzip.decompress((root / rel).read_bytes()) == page.read_bytes(), rel
    if not shutil.which("dpkg-deb"):
        print("  SKIP: dpkg-deb is not installed (the .deb is not checked)")
        return
    out = tmp / "pkg"
    r = subprocess.run(["cpack", "-G", "DEB", "-B", str(out), "--config",
                        str(BIN_DIR / "CPackConfig.cmake")], capture_output=True, text=True,
                       cwd=str(BIN_DIR), timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    deb = next(out.glob("genq_*.deb"))
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True,
                             check=True).stdout
    paths = {ln.split()[-1].lstrip(".") for ln in listing.splitlines()}
    for rel in expected:
        assert "/" + rel in paths, "not in the .deb: /%s" % rel


if __name__ == "__main__":
    run_tests([test_bash_completes, test_zsh_and_fish_load, test_man_pages_render_without_warnings,
               test_toml_page_names_every_key, test_genqctl_page_names_every_command_and_option,
               test_install_and_deb_carry_them])

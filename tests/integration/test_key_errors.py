"""Key errors name the config file and say how to fix them (issue 13): a key file missing,
a directory, empty or with more than the key in it, an unset variable, a credential without
$CREDENTIALS_DIRECTORY or missing from it, a [[keys]] table without a source, and the implicit
key "default" without $STABILITY_API_KEY. Each message names the config file, the line and the
field, and the commands that fix it; the same at start-up (exit 2) and in --check-config."""

import os
import re
import subprocess

from genqtest import GENQD, run_tests


def clean_env(tmp, **extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("XDG_", "GENQ_")) and k not in
           ("STATE_DIRECTORY", "RUNTIME_DIRECTORY", "CREDENTIALS_DIRECTORY", "INVOCATION_ID",
            "JOURNAL_STREAM", "NOTIFY_SOCKET", "STABILITY_API_KEY")}
    env.update(HOME=str(tmp / "home"), XDG_RUNTIME_DIR=str(tmp / "run"))
    (tmp / "run").mkdir(mode=0o700, exist_ok=True)
    env.update(extra)
    return env


def config_with(tmp, keys_toml):
    config = tmp / "genq.toml"
    config.write_text('state_dir = "%s"\nlog_level = "info"\n\n%s' % (tmp / "state", keys_toml))
    return config


def both(config, env):
    """stderr (and the log) of --check-config and of a start; both must refuse with exit 2."""
    out = []
    for extra in (["--check-config"], []):
        r = subprocess.run([str(GENQD), "--config", str(config)] + extra, env=env,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 2, (extra, r.returncode, r.stdout, r.stderr)
        out.append(r.stdout + r.stderr)
    return out


def expect(tmp, keys_toml, field_line, field, fixes, env=None):
    config = config_with(tmp, keys_toml)
    for text in both(config, env or clean_env(tmp)):
        where = "%s:%d: %s" % (config, field_line, field)
        assert where in text, "expected %r in:\n%s" % (where, text)
        assert "to fix: " in text, text
        for fix in fixes:
            assert fix in text, "expected fix %r in:\n%s" % (fix, text)


KEY = '[[keys]]\nname = "main"\nfile = "%s"\n'  # file = is on line 6 of the config


def test_key_file_missing(tmp):
    f = tmp / "keys" / "main"
    expect(tmp, KEY % f, 6, "keys[0].file",
           ["No such file or directory", "install -m 600 /dev/null %s" % f,
            "printf %%s \"$k\" > %s" % f, "Put the API key into a credential"])


def test_key_file_is_a_directory(tmp):
    d = tmp / "keys"
    d.mkdir()
    expect(tmp, KEY % d, 6, "keys[0].file",
           ["Is a directory", "not at a directory", "install -m 600 /dev/null %s/main" % d])


def test_key_file_empty_or_more_than_a_key(tmp):
    f = tmp / "main.key"
    for content in ("", "  \n", "sk-abc def\n", "STABILITY_API_KEY=sk-1\nsecond line\n"):
        f.write_text(content)
        expect(tmp, KEY % f, 6, "keys[0].file",
               ["the key alone", "printf %%s \"$k\" > %s" % f])
        # The key itself is never echoed.
        for text in both(config_with(tmp, KEY % f), clean_env(tmp)):
            assert "sk-abc" not in text and "sk-1" not in text, text


def test_env_not_set(tmp):
    expect(tmp, '[[keys]]\nname = "main"\nenv = "MY_STABILITY_KEY"\n', 6, "keys[0].env",
           ["MY_STABILITY_KEY is not set", "export MY_STABILITY_KEY=sk-", "file = or credential ="])


def test_credential_without_credentials_directory(tmp):
    expect(tmp, '[[keys]]\nname = "main"\nweight = 2\ncredential = "main"\n', 7,
           "keys[0].credential",
           ["$CREDENTIALS_DIRECTORY", "LoadCredential=main:/etc/genq/keys/main",
            "sudo env CREDENTIALS_DIRECTORY=/etc/genq/keys genqd --check-config"])


def test_credential_missing_from_its_directory(tmp):
    creds = tmp / "creds"
    creds.mkdir()
    expect(tmp, '[[keys]]\nname = "main"\ncredential = "stability"\n', 6, "keys[0].credential",
           ["cannot read credential stability", "install -m 600 /dev/null /etc/genq/keys/stability",
            "LoadCredential=stability:/etc/genq/keys/stability", "systemd-creds encrypt"],
           env=clean_env(tmp, CREDENTIALS_DIRECTORY=str(creds)))


def test_keys_table_without_a_source(tmp):
    config = config_with(tmp, '[[keys]]\nname = "main"\n\n[[keys]]\nname = "spare"\n'
                              'file = "/k"\nenv = "K"\n')
    for text in both(config, clean_env(tmp)):
        assert "%s:4: keys[0]: needs exactly one of file, env or credential (none given)" \
            % config in text, text
        assert "%s:7: keys[1]: needs exactly one of file, env or credential (several given)" \
            % config in text, text
        assert "to fix: keep one, e.g. credential = \"main\"" in text, text


def test_implicit_default_key_without_variable(tmp):
    config = config_with(tmp, "[limits]\nwindow = 10\n")
    for text in both(config, clean_env(tmp)):
        assert re.search(r"%s: no \[\[keys\]\] table, so key \"default\" comes from "
                         r"\$STABILITY_API_KEY: key \"default\": environment variable "
                         r"STABILITY_API_KEY is not set; to fix: .*export STABILITY_API_KEY=sk-"
                         r".*\[\[keys\]\] table" % re.escape(str(config)), text), text


if __name__ == "__main__":
    run_tests([test_key_file_missing, test_key_file_is_a_directory,
               test_key_file_empty_or_more_than_a_key, test_env_not_set,
               test_credential_without_credentials_directory,
               test_credential_missing_from_its_directory, test_keys_table_without_a_source,
               test_implicit_default_key_without_variable])

"""One validator per value: every config `genqd --check-config` accepts, genqd starts on and stops
cleanly; every config it refuses names the key. The cases mirror the accepted configs of
tests/unit/test_config.cpp (paths made relative, so each lives in its own directory) plus the
values that used to pass the check and then fail: a listen address the server could not bind
("localhost:8080") and watch params every dropped file would fail on (cfg_scale = 50). Reload
refuses the same values and keeps the running config."""

import grp
import json
import os
import signal
import subprocess
import time
from pathlib import Path

from genqtest import GENQD, PortTaken, UnixHTTPConnection, free_port, port_taken, run_tests

SOURCE_DIR = Path(os.environ.get("GENQ_SOURCE_DIR", Path(__file__).resolve().parents[2]))
MAKE_CERTS = SOURCE_DIR / "tests" / "fakeapi" / "make_certs.sh"


def my_group():
    return grp.getgrgid(os.getgid()).gr_name


# (name, config text, expected: None = accepted, else the key the refusal names).
# {port} is a free loopback port, {group} the test's own group.
CASES = [
    ("empty: built-in defaults under $HOME and $XDG_RUNTIME_DIR", "", None),
    ("a full config using every key", """
state_dir = "state"
output_dir = "out"
socket = "run/ctl.sock"
socket_mode = "0600"
socket_group = "{group}"
log_level = "debug"
log_format = "json"
[api]
base_url = "https://127.0.0.1:9/stab/"
ca_file = "certs/ca.pem"
timeout = 12.5
client_id = "my-genq"
[[keys]]
name = "main"
file = "keys/main"
weight = 2
[[keys]]
name = "spare.2"
env = "SPARE_KEY"
[[keys]]
name = "cred"
credential = "stability"
weight = 0.5
[limits]
requests_per_window = 100
window = 5
safety_margin = 0.5
poll_interval = 2.5
lockout = 30
max_in_flight = 4
[retry]
max_attempts = 3
base_delay = 0.5
max_delay = 60
[[watch]]
dir = "inbox"
kind = "video"
params = {{ cfg_scale = 1.8, motion_bucket_id = 127 }}
[[watch]]
dir = "upscale"
kind = "upscale-creative"
[budget]
daily_credits = 250.5
[http]
listen = "127.0.0.1:{port}"
token = "s3cret-token"
""", None),
    ("relative paths against the config's directory", """
state_dir = "state"
output_dir = "../out"
socket = "run/genq.sock"
[api]
ca_file = "certs/ca.pem"
[[keys]]
name = "k"
file = "keys/main"
[[watch]]
dir = "./inbox"
""", None),
    ("socket_mode as an octal literal", 'socket = "s.sock"\nsocket_mode = 0o660\n', None),
    ("loopback listener without a token", '[http]\nlisten = "127.0.0.1:{port}"\n', None),
    ("IPv6 loopback listener without a token", '[http]\nlisten = "[::1]:{port}"\n', None),
    ("watch params valid for each kind", """
[[watch]]
dir = "v"
params = {{ cfg_scale = 10, seed = 42 }}
[[watch]]
dir = "u"
kind = "upscale"
params = {{ output_format = "webp" }}
""", None),
    # Refused: each used to pass --check-config, then fail at start or on every file.
    ("a host name the server does not resolve", '[http]\nlisten = "localhost:{port}"\n',
     "http.listen"),
    ("a watch's cfg_scale out of range", '[[watch]]\ndir = "in"\nparams = {{ cfg_scale = 50 }}\n',
     "watch[0].params.cfg_scale"),
    ("a watch param its kind does not take",
     '[[watch]]\ndir = "in"\nparams = {{ cfg_scale = 1.8, prompt = "cat" }}\n',
     "watch[0].params.prompt"),
    ("a watch param of the wrong type",
     '[[watch]]\ndir = "in"\nkind = "upscale"\nparams = {{ output_format = "gif" }}\n',
     "watch[0].params.output_format"),
]


def prepare(case_dir, text):
    """A directory holding the config, its key file, a CA file and a credential."""
    case_dir.mkdir(parents=True)
    (case_dir / "keys").mkdir()
    (case_dir / "keys" / "main").write_text("test-key-file\n")
    subprocess.run(["bash", str(MAKE_CERTS), str(case_dir / "certs")], check=True,
                   capture_output=True)
    (case_dir / "creds").mkdir()
    (case_dir / "creds" / "stability").write_text("test-key-cred")
    config = case_dir / "genq.toml"
    write_config(config, text)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("XDG_", "GENQ_")) and k not in
           ("STATE_DIRECTORY", "RUNTIME_DIRECTORY", "CREDENTIALS_DIRECTORY", "INVOCATION_ID",
            "JOURNAL_STREAM", "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID")}
    env.update({"HOME": str(case_dir / "home"), "XDG_RUNTIME_DIR": str(case_dir / "xdg-run"),
                "STABILITY_API_KEY": "test-key-default", "SPARE_KEY": "test-key-spare",
                "CREDENTIALS_DIRECTORY": str(case_dir / "creds")})
    (case_dir / "xdg-run").mkdir(mode=0o700)
    return config, env


def write_config(config, text):
    """The case's text with {port} a free loopback port (again on each call)."""
    config.write_text(text.format(port=free_port(), group=my_group()))


def check_config(config, env):
    return subprocess.run([str(GENQD), "--config", str(config), "--check-config"], env=env,
                          capture_output=True, text=True, timeout=30)


def sockets_under(root):
    return [p for p in Path(root).rglob("*") if p.is_socket()]


def status_ok(path):
    conn = UnixHTTPConnection(str(path), timeout=2)
    try:
        conn.request("GET", "/v1/status")
        r = conn.getresponse()
        return r.status == 200 and "counts" in json.loads(r.read())
    except OSError:
        return False
    finally:
        conn.close()


def start_and_stop(case_dir, config, env, timeout=20):
    """genqd reaches ready (its control socket answers /v1/status), then SIGTERM stops it with 0."""
    log = open(case_dir / "genqd.log", "wb")
    proc = subprocess.Popen([str(GENQD), "--config", str(config)], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while not any(status_ok(p) for p in sockets_under(case_dir)):
            if proc.poll() is not None:
                text = (case_dir / "genqd.log").read_text(errors="replace")
                if port_taken(text):
                    raise PortTaken(text)
                raise AssertionError("genqd exited with %s:\n%s" % (proc.returncode, text))
            assert time.monotonic() < deadline, "genqd never answered on its socket"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(20)
        assert rc == 0, "genqd stopped with %s:\n%s" % (
            rc, (case_dir / "genqd.log").read_text(errors="replace"))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def test_every_accepted_config_starts(tmp):
    accepted = 0
    for i, (name, text, refused_key) in enumerate(CASES):
        case_dir = tmp / ("case%02d" % i)
        config, env = prepare(case_dir, text)
        r = check_config(config, env)
        if refused_key is not None:
            assert r.returncode == 2, (name, r.returncode, r.stdout, r.stderr)
            assert (": %s: " % refused_key) in r.stderr, (name, r.stderr)
            continue
        assert r.returncode == 0, (name, r.stdout, r.stderr)
        try:
            # The free port is a guess: taken before genqd bound it, the case runs on another.
            for attempt in range(5):
                try:
                    start_and_stop(case_dir, config, env)
                    break
                except PortTaken:
                    if attempt == 4 or "{port}" not in text:
                        raise
                    write_config(config, text)
        except AssertionError as e:
            raise AssertionError("%s: %s" % (name, e)) from e
        accepted += 1
    assert accepted == sum(1 for c in CASES if c[2] is None)


def test_reload_refuses_what_check_config_refuses(tmp):
    config, env = prepare(tmp / "d", 'socket = "genq.sock"\n[[watch]]\ndir = "in"\n'
                                     'params = {{ cfg_scale = 2 }}\n')
    log = open(tmp / "d" / "genqd.log", "wb")
    proc = subprocess.Popen([str(GENQD), "--config", str(config)], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    sock = tmp / "d" / "genq.sock"
    try:
        deadline = time.monotonic() + 20
        while not status_ok(sock):
            assert proc.poll() is None and time.monotonic() < deadline, "genqd did not start"
            time.sleep(0.05)
        for bad, key in (('params = { cfg_scale = 50 }', "watch[0].params.cfg_scale"),
                         ('params = { cfg_scale = 2 }\n[http]\nlisten = "localhost:8080"',
                          "http.listen")):
            config.write_text('socket = "genq.sock"\n[[watch]]\ndir = "in"\n' + bad + "\n")
            assert check_config(config, env).returncode == 2
            conn = UnixHTTPConnection(str(sock), timeout=10)
            conn.request("POST", "/v1/reload")
            r = conn.getresponse()
            body = json.loads(r.read())
            conn.close()
            assert r.status == 422, (r.status, body)
            assert body["code"] == "invalid_config" and key in body["error"], body
            assert proc.poll() is None and status_ok(sock), "genqd must keep running"
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(20)
        log.close()
    assert rc == 0


if __name__ == "__main__":
    run_tests([test_every_accepted_config_starts, test_reload_refuses_what_check_config_refuses])

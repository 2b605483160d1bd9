"""Config files: keys from the real commands' flags, errors with their lines, the
command line winning; and the adapter over typer's command objects."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from harness.procs import L2POP
from l2pop.cli import build_app
from l2pop.cliparams import Flag, command_flags, dry_parse, subcommands
from l2pop.config_cli import expand_config
from l2pop.configfile import check_file, key_line, parse_file


def cmd(name: str) -> object:
    return subcommands(build_app())[name]


def test_adapter_reads_the_flags_of_the_real_commands() -> None:
    """Fails when typer changes the objects the config machinery reads."""
    agent = {f.key: f for f in command_flags(cmd("agent"))}
    assert {"host", "tunnel-ip", "server", "token-file", "mode", "log-level"} <= set(agent)
    assert agent["host"].required
    assert not agent["host"].is_flag
    assert agent["underlay-allowlist"].is_flag
    assert "comma-separated" in agent["server"].help
    server = {f.key: f for f in command_flags(cmd("server"))}
    writer = server["stream-writer"]
    assert (writer.on, writer.off, writer.is_flag) == (
        "--stream-writer",
        "--no-stream-writer",
        True,
    )
    assert server["admin-token-file"].name == "admin_token_file"
    failure = dry_parse(cmd("server"), "server", ["--retain", "abc"])
    assert failure is not None
    assert failure.name == "retain"
    assert not failure.missing
    missing = dry_parse(cmd("agent"), "agent", ["--host", "h1"])
    assert missing is not None
    assert missing.missing
    assert dry_parse(cmd("server"), "server", ["--retain", "20000"]) is None


def test_every_flag_of_every_service_command_is_a_key(tmp_path: Path) -> None:
    """A flag added to a command is a key with no table to keep: each one, set alone,
    becomes that flag (values checked by the command's parser where we know a good one)."""
    token = tmp_path / "t"
    token.write_text("x\n")
    for name in ("server", "agent"):
        for flag in command_flags(cmd(name)):
            text = f"{flag.key} = {_sample(flag, token)}\n"
            parsed = parse_file(cmd(name), text)
            assert not parsed.problems, (name, flag.key, parsed.problems)
            assert parsed.args[flag.key][0] in flag.spellings
            if flag.key in SAMPLES or flag.is_flag:
                checked = check_file(cmd(name), name, text)
                assert not checked.problems, (name, flag.key, checked.problems)


SAMPLES = {
    "mode": '"suppress"', "dataplane": '"fake"', "metrics-port": "9100",
    "resync-interval": "2.5", "max-body": "2048", "retain": "20000", "vni-range": '"10:20"',
    "server": '["http://a:1", "http://b:2"]', "etcd": '["127.0.0.1:2379", "127.0.0.2:2379"]',
    "log-format": '"json"', "listen": '"127.0.0.1:9697"', "host": '"h1"',
}  # fmt: skip


def _sample(flag: Flag, token: Path) -> str:
    if flag.is_flag:
        return "false" if flag.off else "true"
    if flag.key == "token-file":
        return f'"{token}"'
    return SAMPLES.get(flag.key, '"x"')


def test_bad_keys_are_named_with_their_lines(tmp_path: Path) -> None:
    text = (
        "# an agent\n"
        'host = "h1"\n'
        "metrix-port = 9100\n"
        'resync-interval = "often"\n'
        'mode = "bogus"\n'
        'underlay-allowlist = "yes"\n'
        'interface = ["a", "b"]\n'
    )
    parsed = check_file(cmd("agent"), "agent", text)
    got = {(p.line, p.key) for p in parsed.problems}
    assert got == {(3, "metrix-port"), (4, "resync-interval"), (5, "mode"),
                   (6, "underlay-allowlist"), (7, "interface")}  # fmt: skip
    by_key = {p.key: p.message for p in parsed.problems}
    assert "metrics-port" in by_key["metrix-port"]  # the near miss is suggested
    assert "--resync-interval" in by_key["resync-interval"]
    assert "not a list" in by_key["interface"] or "one value" in by_key["interface"]
    assert key_line('"quoted-key" = 1\n', "quoted-key") == 1


def test_lists_false_flags_and_the_command_line_winning(tmp_path: Path) -> None:
    app = build_app()
    conf = tmp_path / "server.toml"
    conf.write_text(
        'etcd = ["127.0.0.1:2379", "127.0.0.2:2379"]\n'
        'listen = "127.0.0.1:1"\nstream-writer = false\nretain = 20000\n'
    )
    argv = expand_config(app, ["server", "--config", str(conf), "--listen", "127.0.0.1:2"])
    assert argv[0] == "server"
    assert argv[-2:] == ["--listen", "127.0.0.1:2"]
    assert argv.count("--listen") == 1  # the file's value is dropped, not overridden by order
    assert "--no-stream-writer" in argv
    assert argv[argv.index("--etcd") + 1] == "127.0.0.1:2379,127.0.0.2:2379"
    assert expand_config(app, ["admin", "--config", "x"]) == ["admin", "--config", "x"]


def test_config_check_guesses_the_command_and_exits_1_on_problems(tmp_path: Path) -> None:
    good = tmp_path / "agent.toml"
    good.write_text('host = "h1"\ntunnel-ip = "192.0.2.1"\nserver = ["http://a:9696"]\n')
    out = subprocess.run([*L2POP, "config", "check", str(good)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "good for l2pop agent" in out.stdout
    assert "--token-file" in out.stdout  # required, left to the command line: a note

    bad = tmp_path / "server.toml"
    bad.write_text('listen = "127.0.0.1:9696"\n\nretain = -5\n')
    out = subprocess.run(
        [*L2POP, "config", "check", "--for", "server", str(bad)], capture_output=True, text=True
    )
    assert out.returncode == 1
    assert f"{bad}:3: retain:" in out.stderr

    broken = tmp_path / "broken.toml"
    broken.write_text('listen = "127.0.0.1:9696"\nretain = = 3\n')
    out = subprocess.run(
        [*L2POP, "config", "check", "--for", "server", str(broken)], capture_output=True, text=True
    )
    assert out.returncode == 1
    assert f"{broken}:2:" in out.stderr
    assert "TOML" in out.stderr


def test_a_service_refuses_a_bad_file_naming_key_and_line(tmp_path: Path) -> None:
    conf = tmp_path / "server.toml"
    conf.write_text('db = "x.db"\nlisten-on = "127.0.0.1:9696"\n')
    out = subprocess.run([*L2POP, "server", "--config", str(conf)], capture_output=True, text=True)
    assert out.returncode == 2
    assert f"l2pop server: {conf}:2: listen-on: unknown key (did you mean 'listen'?)" in out.stderr


@pytest.mark.parametrize(
    "name", ["etc/l2pop/server.toml", "etc/l2pop/agent.toml", "etc/l2pop/evpn.toml"]
)
def test_the_shipped_examples_are_good(name: str) -> None:
    path = Path(__file__).parents[3] / name
    kind = path.stem
    if kind not in subcommands(build_app()):
        pytest.skip(f"l2pop {kind} is not part of this tree yet")
    parsed = check_file(cmd(kind), kind, path.read_text())
    # Paths in the examples do not exist here; every other value must parse.
    assert all("does not exist" in p.message for p in parsed.problems), parsed.problems


@pytest.mark.parametrize("name", ["server", "agent", "evpn"])
def test_the_operations_page_lists_every_key(name: str) -> None:
    page = (Path(__file__).resolve().parents[3] / "docs" / "operations.md").read_text()
    [row] = [line for line in page.splitlines() if line.startswith(f"| `{name}` |")]
    listed = set(re.findall(r"`([a-z0-9-]+)`", row.split("|")[2]))
    keys = {f.key for f in command_flags(cmd(name))} - {"config"}
    assert listed == keys

"""Nothing survives a run: normal exit, an exception, SIGTERM, and `l2pop lab clean` after a
crash (which must leave live runs alone)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from l2pop.lab import Fabric, LabError, wait_until
from l2pop.lab.registry import lab_namespaces
from l2pop.lab.shell import run

from .conftest import PORT_A, leftovers

pytestmark = pytest.mark.netns

# A lab owner in its own process: builds a fabric with a VM and a process inside a host,
# prints its prefix, then waits to be signalled (or killed).
OWNER = textwrap.dedent(
    """
    import sys, time
    from l2pop.lab import Fabric
    with Fabric(2, workdir=__import__("pathlib").Path(sys.argv[1])) as f:
        f.add_vm("a", "host1", port_id=sys.argv[2], mac="fa:16:3e:00:00:01", ipv4="198.51.100.1")
        f.start("sleeper", f.host("host2").netns, ["sleep", "60"])
        print(f.prefix, flush=True)
        time.sleep(60)
    """
)


def start_owner(tmp_path: Path) -> tuple[subprocess.Popen[str], str]:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(tmp_path), PORT_A],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert owner.stdout is not None
    prefix = owner.stdout.readline().strip()
    assert prefix, owner.stderr.read() if owner.stderr else ""
    return owner, prefix


def test_a_run_leaves_no_namespace_or_link_behind(tmp_path: Path) -> None:
    with Fabric(3, workdir=tmp_path) as fabric:
        fabric.add_vm("a", "host2", port_id=PORT_A, mac="fa:16:3e:00:00:01", tap_up=True)
        fabric.start("sleeper", fabric.host("host1").netns, ["sleep", "60"])
        prefix = fabric.prefix
        assert len(leftovers(prefix)) >= 6
    assert leftovers(prefix) == []
    assert not (fabric.state_dir / f"{prefix}.json").exists()


def test_an_exception_inside_the_run_still_tears_everything_down(tmp_path: Path) -> None:
    fabric = Fabric(2, workdir=tmp_path)

    def run_that_fails() -> None:
        with fabric:
            fabric.add_vm("a", "host1", port_id=PORT_A, mac="fa:16:3e:00:00:01")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run_that_fails()
    assert fabric.prefix
    assert leftovers(fabric.prefix) == []


def test_a_failing_build_tears_down_what_it_had_built(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="host name"):
        Fabric(["ok1", "Not OK"], workdir=tmp_path)
    fabric = Fabric(["h1"], workdir=tmp_path)
    fabric.add_host = lambda name: (_ for _ in ()).throw(LabError("injected"))  # type: ignore[method-assign]
    with pytest.raises(LabError, match="injected"), fabric:
        pass
    assert leftovers(fabric.prefix) == []


def test_sigterm_to_the_owner_tears_the_lab_down(tmp_path: Path) -> None:
    owner, prefix = start_owner(tmp_path)
    try:
        assert len(lab_namespaces(prefix)) == 5  # underlay, control, 2 hosts, 1 VM
        owner.send_signal(signal.SIGTERM)
        assert owner.wait(timeout=15) == 128 + signal.SIGTERM
        assert leftovers(prefix) == []
    finally:
        owner.kill()
        owner.wait()


def test_lab_clean_removes_a_crashed_run_and_leaves_a_live_one_alone(tmp_path: Path) -> None:
    with Fabric(1, workdir=tmp_path / "live") as live:
        owner, crashed = start_owner(tmp_path / "crashed")
        owner.kill()  # kill -9: no teardown ran
        owner.wait()
        assert len(lab_namespaces(crashed)) == 5
        sleeper = run(["ip", "netns", "pids", f"{crashed}-host2"]).stdout.split()
        assert sleeper, "the crashed run's process should still be running"

        l2pop = str(Path(sys.executable).parent / "l2pop")
        done = run([l2pop, "lab", "clean"])
        assert f"removed lab run {crashed}" in done.stdout
        assert leftovers(crashed) == []
        # SIGKILL is delivered asynchronously: give the kernel a moment to reap it.
        wait_until(
            lambda: not Path(f"/proc/{sleeper[0]}").exists() or _zombie(sleeper[0]),
            timeout=5.0,
            what="the crashed run's process to die",
        )
        assert len(lab_namespaces(live.prefix)) == 3  # untouched
        assert f"kept {live.prefix}" in done.stdout
    assert leftovers(live.prefix) == []


def _zombie(pid: str) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_wait_until_is_bounded() -> None:
    with pytest.raises(LabError, match="never"):
        wait_until(lambda: False, timeout=0.2, what="never")

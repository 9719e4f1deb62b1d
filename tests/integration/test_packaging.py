"""The wheel ships the built-in command sets and assets, and an installed copy finds them.

The wheel is built from the working tree with hatchling (a test extra), installed with
--no-deps into a fresh venv whose heavy dependencies come from this venv through a .pth
file, and its `voxagent` is run from a folder outside the repo.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 300


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    site: Path
    """The fresh venv's site-packages."""
    outside: Path
    """A folder outside the repo to run from, with its own config and state folders."""

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        return env | {"VOXAGENT_CONFIG_DIR": str(self.outside / "config"),
                      "VOXAGENT_STATE_DIR": str(self.outside / "state")}

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), cwd=self.outside, env=self.env(), capture_output=True,
                              text=True, timeout=TIMEOUT, check=False)


def _check(cmd: list[str]) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert result.returncode == 0, f"{cmd}\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _check([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
            "--no-index", "-w", str(out), "-q"])
    (built,) = out.glob("voxagent-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("fresh")
    venv = root / "venv"
    _check([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c",
                                "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # the heavy dependencies (faster-whisper, numpy, the model...) from this venv, after
    # the fresh venv's own site-packages on sys.path
    (site / "project-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _check([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
            "--no-index", "-q", str(wheel)])
    outside = root / "elsewhere"
    outside.mkdir()
    return Installed(wheel, venv, site, outside)


def test_wheel_contains_the_command_sets_and_assets(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {n.removeprefix("agent/_data/commands/") for n in names
               if n.startswith("agent/_data/commands/")}
    source = {p.name for p in (REPO / "commands").glob("*.toml")}
    assert source, "no command files in the source tree"
    assert shipped == source
    assets = {n for n in names if n.startswith("agent/_data/assets/")}
    assert assets == {f"agent/_data/assets/{p.relative_to(REPO / 'assets')}"
                      for p in (REPO / "assets").rglob("*") if p.is_file()}
    assert "agent/__init__.py" in names and "agent/cli.py" in names
    assert not any(n.startswith(("tests/", "bench/", "commands/")) for n in names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "voxagent = agent.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_wheel_lists_its_own_builtin_commands(installed: Installed) -> None:
    shipped = installed.site / "agent" / "_data" / "commands"
    where = installed.run(str(installed.venv / "bin" / "python"), "-c",
                          "import agent, agent.paths as p; print(agent.__file__); "
                          "print(p.data_dir('commands')); print(p.data_dir('assets'))")
    assert where.returncode == 0, where.stderr
    assert where.stdout.split() == [str(installed.site / "agent" / "__init__.py"), str(shipped),
                                    str(installed.site / "agent" / "_data" / "assets")]

    result = installed.run(str(installed.venv / "bin" / "voxagent"), "commands")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    for name, does in (("new tab", "key ctrl+t"), ("go to sleep", "mode sleep"),
                       ("wake up", "mode command"), ("paste", "key ctrl+v")):
        assert any(f" {name} " in line and does in line for line in lines), name
    for line in lines:
        origin = line.split()[-1]
        assert origin.startswith(f"{shipped}/"), line
        assert str(REPO) not in line


def test_installed_wheel_runs_the_pipeline(installed: Installed) -> None:
    espeak = installed.outside / "espeak.wav"
    speech = installed.outside / "new-tab.wav"
    _check(["espeak-ng", "-w", str(espeak), "new tab"])
    _check(["sox", "-D", str(espeak), "-r", "16000", "-c", "1", str(speech), "pad", "0.3", "0.5"])
    result = installed.run(str(installed.venv / "bin" / "voxagent"), "run", "--input",
                           str(speech), "--dry-run", "--json", "--fast")
    assert result.returncode == 0, result.stderr
    assert '"keys": "ctrl+t"' in result.stdout
    version = installed.run(str(installed.venv / "bin" / "python"), "-m", "agent", "--version")
    assert version.stdout.startswith("voxagent ")


def test_wheel_ships_the_autostart_files(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {n.removeprefix("agent/_data/packaging/") for n in names
               if n.startswith("agent/_data/packaging/")}
    assert {"voxagent.desktop", "voxagent.service", "example-commands.toml"} <= shipped


def test_installed_wheel_inits_and_autostarts(installed: Installed) -> None:
    voxagent = str(installed.venv / "bin" / "voxagent")
    xdg = {"XDG_CONFIG_HOME": str(installed.outside / "xdg")}
    init = subprocess.run([voxagent, "init"], cwd=installed.outside, env=installed.env() | xdg,
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert init.returncode == 0, init.stderr
    example = installed.outside / "config" / "commands" / "example.toml"
    assert example.read_bytes() == (REPO / "packaging" / "example-commands.toml").read_bytes()
    on = subprocess.run([voxagent, "autostart", "on"], cwd=installed.outside,
                        env=installed.env() | xdg | {"PATH": f"{installed.venv / 'bin'}:/usr/bin"},
                        capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert on.returncode == 0, on.stderr
    entry = (installed.outside / "xdg" / "autostart" / "voxagent.desktop").read_text()
    assert f"\nExec={voxagent} run\n" in entry


def test_websockets_is_a_core_dependency_and_the_voxtral_extra_remains(wheel: Path) -> None:
    """voxtral.mode = "realtime" needs websockets: a default install has it (it used to be
    in the voxtral extra only, so realtime warned and fell back); `.[voxtral]` still works."""
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        meta = zf.read(name).decode()
    requires = [line.split(":", 1)[1].strip() for line in meta.splitlines()
                if line.startswith("Requires-Dist:")]
    core = [r for r in requires if "extra ==" not in r]
    assert any(r.startswith("websockets") for r in core), requires
    assert "Provides-Extra: voxtral" in meta


def _install_user(home: Path, venv: Path) -> subprocess.CompletedProcess[str]:
    """`make install-user` for a user whose home is `home`, on the venv these tests run in
    (its install stamp is taken as fresh: this test checks the link, not pip)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS")}
    return subprocess.run(["make", "--no-print-directory", "-C", str(REPO), "install-user",
                           f"HOME={home}", f"VENV={venv}", "-o", f"{venv}/.installed"],
                          env=env | {"PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)


def test_make_install_user_puts_voxagent_on_path(tmp_path: Path) -> None:
    venv = Path(sys.prefix)
    assert (venv / "bin" / "voxagent").exists(), "the project is installed in this venv"
    made = _install_user(tmp_path, venv)
    assert made.returncode == 0, made.stderr
    link = tmp_path / ".local" / "bin" / "voxagent"
    assert link.is_symlink() and link.resolve() == (venv / "bin" / "voxagent").resolve()
    assert f"{tmp_path}/.local/bin is not on PATH" in made.stdout  # and says so
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    ran = subprocess.run(["voxagent", "--version"], env=env | {"PATH": f"{link.parent}:/usr/bin"},
                         cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT,
                         check=False)
    assert ran.returncode == 0 and ran.stdout.startswith("voxagent "), ran.stderr
    again = _install_user(tmp_path, venv)  # idempotent
    assert again.returncode == 0 and link.is_symlink(), again.stderr


def test_make_install_user_never_replaces_a_file_that_is_not_a_link(tmp_path: Path) -> None:
    theirs = tmp_path / ".local" / "bin" / "voxagent"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("#!/bin/sh\necho the other voxagent\n")
    made = _install_user(tmp_path, Path(sys.prefix))
    assert made.returncode != 0
    assert f"{theirs} exists and is not a link" in made.stderr
    assert not theirs.is_symlink() and "the other voxagent" in theirs.read_text()

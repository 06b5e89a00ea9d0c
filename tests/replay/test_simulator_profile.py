"""Cell profiles: the built-in ones load, a user's file can start from them, bad files are refused clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from replay.schema import Variant
from replay.simulator.profile import ProfileError, builtin_profiles, load_profile
from replay.simulator.simulate import Simulator


def test_built_in_profiles_describe_two_different_cells() -> None:
    assert {"default", "ur5-cell"} <= set(builtin_profiles())
    default, small = load_profile("default"), load_profile("ur5-cell")
    assert default.arm.model.startswith("voraus-like") and small.arm.model.startswith("UR5")
    # each cell counts its joints its own way: the voraus arm turns joint 2 against UR's
    assert default.arm.joint_sign[1] == -1.0 and small.arm.joint_sign == [1.0] * 6
    assert sum(link.mass for link in small.arm.links) < sum(link.mass for link in default.arm.links)
    assert small.electrical.brake_voltage != default.electrical.brake_voltage
    # the small cell inherits what it does not set from the default profile
    assert small.anomalies.can_mass == default.anomalies.can_mass


def test_the_held_out_cells_load_and_differ_from_the_cells_tuned_on() -> None:
    """Issue 14's held-out cells: reported on, never tuned on (see their headers)."""
    worn, fast = load_profile("heldout-worn-cell"), load_profile("heldout-fast-cell")
    assert worn.friction.coulomb != load_profile("default").friction.coulomb
    assert fast.motion.joint_velocity != load_profile("ur5-cell").motion.joint_velocity
    assert worn.anomalies.friction_increase != fast.anomalies.friction_increase


def test_a_user_profile_overrides_single_values_of_its_base(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('base = "default"\nname = "mine"\n[friction]\ncoulomb = [9.0, 9.0, 9.0, 2.0, 2.0, 1.0]\n')
    mine = load_profile(path)
    assert mine.name == "mine" and mine.friction.coulomb[0] == 9.0
    assert mine.friction.viscous == load_profile("default").friction.viscous
    # a cell the detector was not tuned on really produces other signals
    ((a, _),) = Simulator(mine, seed=1).simulate([(0, Variant.PRE_A)])
    ((b, _),) = Simulator(load_profile("default"), seed=1).simulate([(0, Variant.PRE_A)])
    assert not np.array_equal(a.signals, b.signals)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'base = "default"\n[friction]\ncolomb = [1, 1, 1, 1, 1, 1]\n',
            "friction.colomb: Extra inputs are not permitted",
        ),
        (
            'base = "default"\n[drives]\ngear_ratio = [101, 101]\n',
            "drives.gear_ratio: List should have at least 6 items",
        ),
        ('base = "default"\n[tool]\nmass = -1.0\n', "tool.mass: Input should be greater than 0"),
        ('base = "default"\n[noise\n', "not valid TOML"),
        ('base = "elsewhere"\n', "no profile 'elsewhere'"),
        ("name = 'x'\n", "arm: Field required"),
        (
            'base = "default"\n[[arm.links]]\nmass = 1.219\ncom = [0, 0, 0]\n'
            "inertia = [0.111, 0.111, 0.219, 0, 0, 0]\nradius = 0.1\n",
            "arm.links",
        ),
    ],
)
def test_a_bad_profile_is_refused_with_the_file_and_the_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ProfileError, match=r"bad\.toml") as info:
        load_profile(path)
    assert message in str(info.value)


def test_inertia_no_body_can_have_is_refused(tmp_path: Path) -> None:
    default = (Path(__file__).resolve().parents[2] / "replay" / "profiles" / "default.toml").read_text()
    # the UR5 URDF's wrist: 1.219 kg with 0.111 kg·m², as if it were 1.2 m wide
    bad = default.replace(
        "inertia = [0.0045, 0.0033, 0.0039, 0.0, 0.0, -0.0003]",
        "inertia = [0.111, 0.111, 0.219, 0.0, 0.0, 0.0]",
        1,
    )
    path = tmp_path / "urdf.toml"
    path.write_text(bad)
    with pytest.raises(ProfileError, match=r"arm\.links\[4\]: moment of inertia 0\.2\d* kg·m² exceeds"):
        load_profile(path)

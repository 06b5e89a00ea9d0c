"""The voraus-AD table: schema, streaming reader, writer, and clear errors on bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from replay import VorausFile, VorausFormatError, VorausWriter
from replay.schema import COLUMNS, DTYPES, SIGNAL_GROUPS, SIGNALS, Action, Category, axis_of


def test_schema_matches_the_real_file(excerpt: Path) -> None:
    df = pd.read_parquet(excerpt)
    assert tuple(df.columns) == COLUMNS
    assert {c: df[c].dtype for c in COLUMNS} == DTYPES
    assert df.index.name == "index" and df.index.dtype == np.int64
    assert {k: len(v) for k, v in SIGNAL_GROUPS.items()} == {
        "machine": 130,
        "electrical": 40,
        "mechanical": 90,
        "measured": 58,
        "computed": 72,
    }
    assert set(SIGNAL_GROUPS["mechanical"]) | set(SIGNAL_GROUPS["electrical"]) == set(SIGNALS)
    assert len(Category) == 13 and len(Action) == 15
    assert axis_of("motor_torque_3") == 3 and axis_of("robot_current") is None


def test_reader_yields_the_cycles_of_the_excerpt(excerpt: Path) -> None:
    cycles = list(VorausFile(excerpt).cycles())
    assert [c.sample for c in cycles] == [12, 755, 1702, 1703]
    assert [c.n_steps for c in cycles] == [100, 100, 99, 99]
    df = pd.read_parquet(excerpt)
    first = df[df["sample"] == 12]
    np.testing.assert_array_equal(cycles[0].signals, first[list(SIGNALS)].to_numpy())
    np.testing.assert_array_equal(cycles[0].index, first.index.to_numpy())
    assert cycles[0].anomaly and cycles[0].category == Category.AXIS_FRICTION
    assert [c.sample for c in VorausFile(excerpt).cycles("train")] == [755, 1702]
    assert [c.sample for c in VorausFile(excerpt).cycles("test")] == [12, 1703]


def test_reader_result_does_not_depend_on_batch_size(excerpt: Path) -> None:
    whole = list(VorausFile(excerpt).cycles(batch_rows=1 << 20))
    for batch_rows in (1, 7, 99, 100, 101):
        pieces = list(VorausFile(excerpt).cycles(batch_rows=batch_rows))
        assert [c.sample for c in pieces] == [c.sample for c in whole]
        for a, b in zip(pieces, whole, strict=True):
            np.testing.assert_array_equal(a.signals, b.signals)
            np.testing.assert_array_equal(a.time, b.time)


def test_downsampling_keeps_rows_whose_global_index_divides(excerpt: Path) -> None:
    df = pd.read_parquet(excerpt)
    cycles = list(VorausFile(excerpt).cycles(divider=5))
    kept = np.concatenate([c.index for c in cycles])
    np.testing.assert_array_equal(kept, df.index[df.index % 5 == 0].to_numpy())


def test_column_projection_reads_only_the_chosen_signals(excerpt: Path) -> None:
    group = SIGNAL_GROUPS["electrical"]
    cycle = next(VorausFile(excerpt, signals=group).cycles())
    assert cycle.signal_names == group and cycle.signals.shape == (100, 40)
    df = pd.read_parquet(excerpt, columns=list(group))
    np.testing.assert_array_equal(cycle.signals, df.iloc[:100].to_numpy())


def test_round_trip_of_the_real_excerpt_is_exact(excerpt: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy.parquet"
    with VorausWriter(out, rows_per_group=150) as writer:
        for cycle in VorausFile(excerpt).cycles():
            writer.write_cycle(cycle)
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(excerpt), check_exact=True)
    # and pyarrow alone sees the same columns and types
    assert pq.read_schema(out).names == ["index", *COLUMNS]
    again = list(VorausFile(out).cycles())
    for a, b in zip(again, VorausFile(excerpt).cycles(), strict=True):
        np.testing.assert_array_equal(a.signals, b.signals)
        np.testing.assert_array_equal(a.index, b.index)


def test_writer_numbers_rows_when_the_cycle_has_no_index(excerpt: Path, tmp_path: Path) -> None:
    out = tmp_path / "renumbered.parquet"
    with VorausWriter(out) as writer:
        for cycle in VorausFile(excerpt).cycles():
            cycle.index = None
            writer.write_cycle(cycle)
    assert pd.read_parquet(out).index.tolist() == list(range(398))


def _rewrite(excerpt: Path, tmp_path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    df = change(pd.read_parquet(excerpt))
    out = tmp_path / "bad.parquet"
    df.to_parquet(out)
    return out


def test_missing_column_is_named(excerpt: Path, tmp_path: Path) -> None:
    bad = _rewrite(excerpt, tmp_path, lambda df: df.drop(columns=["motor_torque_2"]))
    with pytest.raises(VorausFormatError, match=r"bad\.parquet: missing column\(s\): motor_torque_2"):
        VorausFile(bad)


def test_wrong_dtype_is_named(excerpt: Path, tmp_path: Path) -> None:
    bad = _rewrite(excerpt, tmp_path, lambda df: df.astype({"action": "int64"}))
    with pytest.raises(
        VorausFormatError, match=r"bad\.parquet: column 'action' has type int64, expected uint8"
    ):
        VorausFile(bad)


def test_non_contiguous_cycle_is_named(excerpt: Path, tmp_path: Path) -> None:
    def interleave(df: pd.DataFrame) -> pd.DataFrame:
        return pd.concat([df.iloc[:50], df.iloc[100:200], df.iloc[50:100], df.iloc[200:]])

    bad = _rewrite(excerpt, tmp_path, interleave)
    with pytest.raises(VorausFormatError, match=r"bad\.parquet: cycle 12 is not contiguous: .* row 150"):
        list(VorausFile(bad).cycles())


def test_changing_label_inside_a_cycle_is_named(excerpt: Path, tmp_path: Path) -> None:
    def relabel(df: pd.DataFrame) -> pd.DataFrame:
        df.iloc[10, df.columns.get_loc("category")] = 3
        return df

    bad = _rewrite(excerpt, tmp_path, relabel)
    with pytest.raises(VorausFormatError, match=r"cycle 12: column 'category' changes within the cycle"):
        list(VorausFile(bad).cycles())


@pytest.mark.parametrize("content", [b"", b"not a parquet file at all", b"PAR1" + b"\0" * 64])
def test_unreadable_file_is_named(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(content)
    with pytest.raises(VorausFormatError, match=r"broken\.parquet: cannot be read as a parquet file"):
        VorausFile(bad)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(VorausFormatError, match=r"nowhere\.parquet: cannot be read"):
        VorausFile(tmp_path / "nowhere.parquet")


def test_truncated_file_fails_with_the_file_name(excerpt: Path, tmp_path: Path) -> None:
    data = excerpt.read_bytes()
    bad = tmp_path / "cut.parquet"
    bad.write_bytes(data[: len(data) // 2] + data[-2048:])
    with pytest.raises(VorausFormatError, match=r"cut\.parquet"):
        list(VorausFile(bad).cycles())


def test_an_arrow_table_with_an_unknown_type_is_refused(excerpt: Path, tmp_path: Path) -> None:
    table = pq.read_table(excerpt)
    i = table.schema.get_field_index("time")
    table = table.set_column(i, "time", pa.array([str(v) for v in table.column("time").to_pylist()]))
    bad = tmp_path / "strings.parquet"
    pq.write_table(table, bad)
    with pytest.raises(VorausFormatError, match=r"column 'time' has type string, expected float64"):
        VorausFile(bad)


@pytest.mark.parametrize(("part", "divider"), [("all", 1), ("train", 1), ("test", 5)])
def test_spilled_reading_of_huge_row_groups_gives_the_same_cycles(
    excerpt: Path, part: str, divider: int
) -> None:
    """A zero memory budget forces the column-wise spill used for the public single-row-group files."""
    direct = list(VorausFile(excerpt).cycles(part, divider=divider))  # type: ignore[arg-type]
    spilled = list(VorausFile(excerpt, memory_budget=0).cycles(part, divider=divider, batch_rows=33))  # type: ignore[arg-type]
    assert [c.sample for c in spilled] == [c.sample for c in direct]
    for a, b in zip(spilled, direct, strict=True):
        for name in ("signals", "time", "action", "active", "index"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
            assert getattr(a, name).dtype == getattr(b, name).dtype
        assert (a.sample, a.anomaly, a.category, a.setting) == (b.sample, b.anomaly, b.category, b.setting)


def test_spilled_reading_still_names_non_contiguous_cycles(excerpt: Path, tmp_path: Path) -> None:
    bad = _rewrite(excerpt, tmp_path, lambda df: pd.concat([df.iloc[:50], df.iloc[100:200], df.iloc[50:100]]))
    with pytest.raises(VorausFormatError, match=r"cycle 12 is not contiguous: .* row 150"):
        list(VorausFile(bad, memory_budget=0).cycles())

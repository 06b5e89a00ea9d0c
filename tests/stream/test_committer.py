"""The committer's rules (robotwatch/stream/committer.py), one by one."""

from __future__ import annotations

from aiokafka import TopicPartition

from robotwatch.stream.committer import Committer

TP = TopicPartition("signals", 0)
OTHER = TopicPartition("signals", 1)


def _read(committer: Committer, tp: TopicPartition, upto: int) -> None:
    for offset in range(upto):
        committer.consumed(tp, offset)


def test_the_safe_offset_is_the_smallest_hold_open_anchor_or_next_offset() -> None:
    committer = Committer()
    assert committer.safe(TP, None) is None  # nothing read yet: nothing to commit
    _read(committer, TP, 10)
    assert committer.safe(TP, None) == 10
    token = committer.hold(TP, 4)
    assert committer.safe(TP, None) == 4 and committer.safe(TP, 2) == 2
    committer.release(token)
    assert committer.safe(TP, None) == 10


def test_holds_are_per_partition_and_only_moved_offsets_are_committed() -> None:
    committer = Committer()
    _read(committer, TP, 5)
    _read(committer, OTHER, 7)
    committer.hold(OTHER, 3)
    assert committer.to_commit({}) == {TP: 5, OTHER: 3}
    committer.committed_now({TP: 5, OTHER: 3})
    assert committer.to_commit({}) == {}


def test_a_delivered_cycle_whose_start_came_late_keeps_the_commit_out_of_its_span() -> None:
    """Frames at 2..9 belong to a cycle whose start was seen in frame 6: a re-read from 3..6
    would see the start without frames 2..5 and build another cycle."""
    committer = Committer()
    _read(committer, TP, 12)
    cycle = committer.hold(TP, 2)
    later = committer.hold(TP, 5)  # something else still in flight
    committer.release(cycle, start_offset=6)
    assert committer.safe(TP, None) == 2  # 5 lies in (2, 6]: lowered to the anchor
    committer.release(later)
    assert committer.safe(TP, None) == 12  # past the span: free
    committer.committed_now({TP: 12})
    assert committer.safe(TP, 4) == 4  # a span the commit passed holds nothing any more


def test_revoked_partitions_are_forgotten_with_their_holds() -> None:
    committer = Committer()
    _read(committer, TP, 5)
    committer.hold(TP, 1)
    committer.forget({TP})
    assert committer.safe(TP, None) is None and committer.in_flight() == 0


def test_a_partition_is_stalled_when_its_commit_point_does_not_move() -> None:
    committer = Committer()
    _read(committer, TP, 5)
    committer.hold(TP, 0)
    start = committer.last_advance[TP]
    assert committer.stalled(10.0, now=start + 5) == []
    assert committer.stalled(10.0, now=start + 11) == [TP]
    committer.committed_now({TP: 5})
    assert committer.stalled(10.0, now=start + 11) == []  # everything read is committed

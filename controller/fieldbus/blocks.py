"""Plan block reads: as few requests as possible, never an unmapped address.

One request per register would cost a round trip per value (a slow gateway manages
one read every few hundred ms), so points are read in blocks. Devices answer
ILLEGAL DATA ADDRESS for a block that touches an address they do not implement,
which would lose every value in it; a block therefore only reads through a gap
when every address in the gap belongs to another mapped point of the device (for
example a slow counter between two fast temperatures).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from controller.config.registermap import Point, PollClass, Table

_POLL_ORDER = {PollClass.FAST: 0, PollClass.SLOW: 1, PollClass.ONCE: 2}
_TABLE_ORDER = {Table.COIL: 0, Table.DISCRETE: 1, Table.HOLDING: 2, Table.INPUT: 3}


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One read request: ``count`` registers (or bits) of ``table`` from ``start``.

    ``points`` are the points of the block's poll class decoded from it; addresses
    bridged to join them belong to points of other classes and are not decoded here.
    """

    table: Table
    poll: PollClass
    start: int
    count: int
    points: tuple[Point, ...]

    @property
    def end(self) -> int:
        return self.start + self.count

    def words_of(self, data: Sequence[int], point: Point) -> list[int]:
        """The point's words out of the block's data (one int per bit for bit tables)."""
        offset = point.address - self.start
        return list(data[offset : offset + point.words])

    def __str__(self) -> str:
        return f"{self.table}[{self.start}..{self.end - 1}] ({self.poll}, {len(self.points)} pts)"


def plan_reads(
    points: Sequence[Point],
    *,
    max_registers: int = 120,
    max_bits: int = 1000,
    max_gap: int = 8,
) -> list[ReadBlock]:
    """Group points by (table, poll class) and merge neighbours into blocks.

    Two points join one block when the block stays within the size limit and the
    addresses between them are either none (contiguous) or at most ``max_gap``
    addresses that all belong to other mapped points. Blocks come out fast first,
    then slow and once; within a class by table and address.
    """
    if max_registers < 2:
        raise ValueError("max_registers must be at least 2 (a 32-bit point needs two)")
    if max_bits < 1 or max_gap < 0:
        raise ValueError("max_bits must be >= 1 and max_gap >= 0")
    mapped: dict[Table, set[int]] = {}
    groups: dict[tuple[Table, PollClass], list[Point]] = {}
    for p in points:
        mapped.setdefault(p.table, set()).update(range(p.address, p.address + p.words))
        groups.setdefault((p.table, p.poll), []).append(p)

    blocks: list[ReadBlock] = []
    for (table, poll), members in groups.items():
        limit = max_bits if table.is_bit else max_registers
        ordered = sorted(members, key=lambda p: p.address)
        current: list[Point] = []
        start = end = 0
        for p in ordered:
            if current:
                gap = p.address - end
                new_end = p.address + p.words
                bridgeable = gap == 0 or (
                    0 < gap <= max_gap and all(a in mapped[table] for a in range(end, p.address))
                )
                if bridgeable and new_end - start <= limit:
                    current.append(p)
                    end = new_end
                    continue
                blocks.append(ReadBlock(table, poll, start, end - start, tuple(current)))
            current = [p]
            start, end = p.address, p.address + p.words
        if current:
            blocks.append(ReadBlock(table, poll, start, end - start, tuple(current)))
    blocks.sort(key=lambda b: (_POLL_ORDER[b.poll], _TABLE_ORDER[b.table], b.start))
    return blocks

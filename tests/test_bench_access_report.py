"""The access-report benchmark's machinery, run tiny: it seeds, the floor reads exactly the
person's rows, and the real server's report covers every one of their appointments."""

from __future__ import annotations

import re

from bench.access_report import run


async def test_tiny_access_report_bench_covers_the_persons_appointments() -> None:
    text = await run(rows=3000, mine=7, repeat=1, seed_value=3)
    person = re.search(r"7 the person's: ([\d,]+) of their rows", text)
    floor = re.search(r"floor read ([\d,]+) rows; the report covered (\d+) appointments", text)
    assert person and floor, text
    assert floor.group(1) == person.group(1) and floor.group(2) == "7", text
    assert "report PDF" in text and "x floor" in text

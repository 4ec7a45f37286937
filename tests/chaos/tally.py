"""What a chaos run's hits came to, per victim: the kills and freezes that landed while the round's
chats ran apart from those that missed (the chats were done before the hit: the piece was hit while
idle, which checks little), the violations found, and how long recovery took."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from tests.chaos.plan import FREEZE, KILL
from tests.chaos.rounds import RoundResult


def _stats(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "max": None}
    return {"median": round(statistics.median(values), 3), "max": round(max(values), 3)}


def victim_row(results: list[RoundResult]) -> dict[str, Any]:
    """One victim's hits: `kills` and `freezes` count those that landed, `missed` the others."""
    landed = [r.hit.kind for r in results if r.hit is not None and not r.missed]
    return {
        "hits": len(results),
        "kills": landed.count(KILL),
        "freezes": landed.count(FREEZE),
        "missed": sum(1 for r in results if r.missed),
        "violations": dict(sorted(Counter(v.kind for r in results for v in r.violations).items())),
        "down_s": _stats([r.down_s for r in results if r.down_s is not None]),
        "first_update_s": _stats([r.first_update_s for r in results if r.first_update_s is not None]),
        "done_s": _stats([r.done_s for r in results if r.done_s is not None]),
    }

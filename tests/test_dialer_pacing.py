"""The pacing core over a simulated day: 50 agents, 8 hours, customers answering 30 % of the calls.

The day is simulated here, second by second, with a seeded random generator: calls ring, are answered
(or are busy / not answered), answered calls take a free agent or are dropped after 2 s without one,
agents talk and wrap up. Predictive pacing must keep the dropped share of answered calls at or under the
3 % cap while leaving the agents less idle than progressive dialing does.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field

import pytest

from cti.dialer.pacing import (
    Mode,
    PacingInput,
    PacingPolicy,
    PacingStats,
    expected_drop_share,
    pace,
)

AGENTS = 50
DAY_S = 8 * 3600
TICK_S = 2
DROP_AFTER_S = 2.0
ANSWER_RATE = 0.3


@dataclass
class DayResult:
    answered: int = 0
    dropped: int = 0
    connected: int = 0
    dialed: int = 0
    idle_agent_s: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def abandon_rate(self) -> float:
        return self.dropped / self.answered if self.answered else 0.0

    @property
    def idle_share(self) -> float:
        return self.idle_agent_s / (AGENTS * DAY_S)


def simulate_day(mode: Mode, seed: int = 7, policy: PacingPolicy | None = None) -> DayResult:
    rng = random.Random(seed)
    stats = PacingStats(policy or PacingPolicy())
    result = DayResult()
    free = AGENTS
    in_flight = 0
    events: list[tuple[float, int, str, float]] = []  # (time, n, kind, started_at)
    counter = 0

    def schedule(at: float, kind: str, started: float) -> None:
        nonlocal counter
        counter += 1
        heapq.heappush(events, (at, counter, kind, started))

    now = 0.0
    while now < DAY_S:
        while events and events[0][0] <= now:
            at, _, kind, started = heapq.heappop(events)
            if kind == "answer":
                in_flight -= 1
                stats.finished("answered", at - started)
                result.answered += 1
                if free > 0:
                    free -= 1
                    result.connected += 1
                    handle = rng.expovariate(1 / 150.0) + 15.0
                    schedule(at + handle, "agent_free", at)
                else:
                    schedule(at + DROP_AFTER_S, "maybe_drop", at)
            elif kind == "maybe_drop":  # waited in the queue; an agent may have come free meanwhile
                if free > 0:
                    free -= 1
                    result.connected += 1
                    schedule(at + rng.expovariate(1 / 150.0) + 15.0, "agent_free", at)
                else:
                    result.dropped += 1
                    stats.dropped_call()
            elif kind == "agent_free":
                free += 1
                stats.handled(at - started)
            else:  # busy / no_answer / failed
                in_flight -= 1
                stats.finished(kind, at - started)  # type: ignore[arg-type]
                result.outcomes[kind] = result.outcomes.get(kind, 0) + 1
        decision = pace(PacingInput(mode, free, AGENTS - free, in_flight), stats)
        for _ in range(decision.originate):
            in_flight += 1
            result.dialed += 1
            roll = rng.random()
            if roll < ANSWER_RATE:
                schedule(now + rng.uniform(4.0, 20.0), "answer", now)
            elif roll < ANSWER_RATE + 0.15:
                schedule(now + rng.uniform(2.0, 6.0), "busy", now)
            elif roll < ANSWER_RATE + 0.2:
                schedule(now + 1.0, "failed", now)
            else:
                schedule(now + 30.0, "no_answer", now)
        result.idle_agent_s += free * TICK_S
        now += TICK_S
    return result


@pytest.fixture(scope="module")
def day() -> dict[str, DayResult]:
    return {mode: simulate_day(mode) for mode in ("progressive", "predictive")}


def test_predictive_stays_under_the_abandon_cap(day: dict[str, DayResult]) -> None:
    predictive = day["predictive"]
    assert predictive.answered > 5_000  # a full day of calls, not a few
    assert predictive.dropped > 0  # it does take the risk it is allowed ...
    assert predictive.abandon_rate <= 0.03  # ... within the cap


def test_predictive_leaves_agents_less_idle_than_progressive(day: dict[str, DayResult]) -> None:
    progressive, predictive = day["progressive"], day["predictive"]
    assert progressive.dropped == 0  # one call per free agent never drops one
    assert predictive.idle_share < progressive.idle_share * 0.6
    assert predictive.connected > progressive.connected


def test_a_lower_cap_drops_less() -> None:
    strict = simulate_day("predictive", seed=11, policy=PacingPolicy(abandon_cap=0.01))
    assert strict.abandon_rate <= 0.01


def test_preview_never_dials_and_progressive_counts_calls_in_flight() -> None:
    stats = PacingStats()
    assert pace(PacingInput("preview", 10, 0, 0), stats).originate == 0
    assert pace(PacingInput("progressive", 10, 0, 4), stats).originate == 6
    assert pace(PacingInput("progressive", 3, 0, 1, waiting=1), stats).originate == 1
    assert pace(PacingInput("progressive", 10, 0, 0, leads_ready=2), stats).originate == 2


def test_predictive_learns_before_it_overdials_and_backs_off_over_the_cap() -> None:
    stats = PacingStats(PacingPolicy(min_samples=10))
    given = PacingInput("predictive", 10, 20, 0)
    assert pace(given, stats).originate == 10  # nothing learnt yet: progressive
    for _ in range(30):
        stats.finished("no_answer")
    for _ in range(20):
        stats.finished("answered", 10.0)
    ahead = pace(given, stats)
    assert ahead.originate > 10 and ahead.ratio > 1.0
    for _ in range(5):
        stats.dropped_call()  # 5 of 20 answered dropped: 25 % > 3 %
    assert pace(given, stats).originate == 10


def test_predictive_keeps_dialing_one_per_free_agent_when_nobody_answered_lately() -> None:
    stats = PacingStats(PacingPolicy(min_samples=10))
    for _ in range(40):
        stats.finished("busy")  # a run of busy numbers: the answer rate is 0
    decision = pace(PacingInput("predictive", 3, 0, 1), stats)
    assert (decision.originate, decision.reason) == (2, "predictive: no answer lately, one call per free agent")
    stats.finished("answered", 5.0)
    assert pace(PacingInput("predictive", 3, 0, 1), stats).reason.startswith("predictive: answer rate")


def test_expected_drop_share() -> None:
    assert expected_drop_share(10, 0.5, 10) == 0.0
    assert expected_drop_share(4, 1.0, 2) == 0.5
    assert 0.0 < expected_drop_share(40, 0.3, 10) < expected_drop_share(60, 0.3, 10)

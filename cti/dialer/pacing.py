"""The dialer's pacing core: how many customers to call now. Pure: plain numbers in, a decision out.

No I/O and no clock: durations come in on the observations (seconds measured by the caller).

- **preview**: the dialer never calls by itself (the agent sees the lead, then dials).
- **progressive**: one call per free agent, less the calls already ringing.
- **predictive**: more calls than free agents, from what has been seen so far: the answer rate ``p`` (of the
  last ``window`` finished attempts), how long a call rings before it is answered and how long an agent
  keeps a connected call (talk + wrap-up), which give the agents that will be free by the time the new
  calls are answered. It dials the most calls ``n`` for which the expected share of answered calls that
  find no agent (dropped) stays within the target, with answers ``A ~ Binomial(in_flight + n, p)``
  against the agents expected free ``F``: ``E[max(0, A - F)] / E[A] <= target``.
  The target is the abandon cap (3 % by default) less a safety margin; while the abandon rate measured
  so far (dropped / answered) is over the cap, it dials progressively until it is back under it, and
  so it does while nobody of the last ``window`` answered (a prediction from an answer rate of 0 would
  never dial again, and so never see it change).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["preview", "progressive", "predictive"]
Outcome = Literal["answered", "busy", "no_answer", "failed", "machine"]


@dataclass(frozen=True, slots=True)
class PacingPolicy:
    abandon_cap: float = 0.03  # dropped / answered
    max_ratio: float = 3.0  # calls in flight per free agent, at most
    safety: float = 0.5  # the model aims at this share of the cap
    window: int = 200  # finished attempts the answer rate is measured over
    min_samples: int = 30  # fewer than this: progressive (nothing to predict from yet)
    prior_answer_rate: float = 0.3
    prior_ring_s: float = 15.0
    prior_handle_s: float = 180.0


@dataclass(frozen=True, slots=True)
class PacingInput:
    mode: Mode
    agents_free: int  # logged in, available and not reserved
    agents_busy: int  # logged in, on a call or in wrap-up (they come back)
    in_flight: int  # originated, not answered or failed yet
    waiting: int = 0  # answered, waiting in the queue for an agent
    leads_ready: int = 1_000_000  # leads that may be dialled now


@dataclass(frozen=True, slots=True)
class PacingDecision:
    originate: int
    ratio: float  # calls in flight (with these) per free agent
    reason: str


@dataclass(slots=True)
class PacingStats:
    """What the core has been told; the shell feeds it, the core reads it."""

    policy: PacingPolicy = field(default_factory=PacingPolicy)
    outcomes: deque[bool] = field(default_factory=deque)  # answered or not, newest last
    ring_s: deque[float] = field(default_factory=deque)
    handle_s: deque[float] = field(default_factory=deque)
    answered: int = 0
    dropped: int = 0

    def finished(self, outcome: Outcome, ring_s: float = 0.0) -> None:
        """One attempt ended its ringing: answered by a person, or not (busy, no answer, failed, machine)."""
        self.outcomes.append(outcome == "answered")
        while len(self.outcomes) > self.policy.window:
            self.outcomes.popleft()
        if outcome == "answered":
            self.answered += 1
            _push(self.ring_s, ring_s, self.policy.window)

    def dropped_call(self) -> None:
        """An answered call found no agent in time."""
        self.dropped += 1

    def handled(self, handle_s: float) -> None:
        """An agent finished a connected call after ``handle_s`` (talk and wrap-up)."""
        _push(self.handle_s, handle_s, self.policy.window)

    @property
    def answer_rate(self) -> float:
        if not self.outcomes:
            return self.policy.prior_answer_rate
        return sum(self.outcomes) / len(self.outcomes)

    @property
    def abandon_rate(self) -> float:
        return self.dropped / self.answered if self.answered else 0.0

    def mean_ring_s(self) -> float:
        return sum(self.ring_s) / len(self.ring_s) if self.ring_s else self.policy.prior_ring_s

    def mean_handle_s(self) -> float:
        return sum(self.handle_s) / len(self.handle_s) if self.handle_s else self.policy.prior_handle_s


def _push(values: deque[float], value: float, limit: int) -> None:
    values.append(max(0.0, value))
    while len(values) > limit:
        values.popleft()


def expected_drop_share(calls: int, p: float, free: float) -> float:
    """``E[max(0, A - free)] / E[A]`` for ``A ~ Binomial(calls, p)``."""
    if calls <= 0 or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return max(0.0, calls - free) / calls
    q = 1.0 - p
    pmf = q**calls  # P(A = 0)
    over = 0.0
    for k in range(calls + 1):
        if k > 0:
            pmf *= (calls - k + 1) / k * p / q
        if k > free:
            over += (k - free) * pmf
    return over / (calls * p)


def pace(given: PacingInput, stats: PacingStats) -> PacingDecision:
    """How many calls to originate now."""
    policy = stats.policy
    if given.mode == "preview":
        return PacingDecision(0, 0.0, "preview: the agent dials")
    progressive = max(0, min(given.agents_free - given.in_flight - given.waiting, given.leads_ready))
    if given.mode == "progressive":
        return _decision(progressive, given, "progressive: one call per free agent")
    if len(stats.outcomes) < policy.min_samples:
        return _decision(progressive, given, "predictive: learning the answer rate")
    if stats.abandon_rate > policy.abandon_cap:
        return _decision(progressive, given, "predictive: over the abandon cap, progressive until under it")
    p = stats.answer_rate
    if p <= 0.0:  # nobody answered lately: predicting from that would never dial again and learn nothing new
        return _decision(progressive, given, "predictive: no answer lately, one call per free agent")
    # Agents on a call who will be free by the time a new call is answered (handle times taken as
    # exponential: the chance one ends within a ring time).
    soon = given.agents_busy * (1.0 - math.exp(-stats.mean_ring_s() / max(stats.mean_handle_s(), 1.0)))
    free = given.agents_free + soon - given.waiting
    if free <= 0:
        return _decision(0, given, "predictive: no agent expected free")
    limit = int(policy.max_ratio * max(given.agents_free, 1)) - given.in_flight
    limit = min(limit, given.leads_ready)
    target = policy.abandon_cap * policy.safety
    low, high = 0, max(limit, 0)
    while low < high:  # the share of drops grows with the calls: the largest n within the target
        mid = (low + high + 1) // 2
        if expected_drop_share(given.in_flight + mid, p, free) <= target:
            low = mid
        else:
            high = mid - 1
    return _decision(low, given, f"predictive: answer rate {p:.2f}, {free:.1f} agents expected free")


def _decision(n: int, given: PacingInput, reason: str) -> PacingDecision:
    ratio = (given.in_flight + n) / given.agents_free if given.agents_free else 0.0
    return PacingDecision(n, round(ratio, 2), reason)

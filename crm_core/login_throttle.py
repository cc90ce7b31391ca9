"""Login throttling per account and per address: a captcha after a few failures, then a temporary lock.

Pure: the caller passes the time. Failures count within a sliding window; an account (or an address) that
reaches the lock threshold is refused for ``lock_s`` even with the right password. Attempts refused for a
missing or wrong captcha count against the address only, so that nobody can lock a colleague's account
without solving captchas. A success clears the account's failures, never the address's.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from enum import Enum


class Verdict(Enum):
    OPEN = "open"  # user name and password are enough
    CAPTCHA = "captcha"  # a solved captcha is needed as well
    LOCKED = "locked"  # refused until the lock ends


@dataclass(frozen=True, slots=True)
class ThrottleRules:
    captcha_after: int = 3
    lock_after: int = 10
    address_lock_after: int = 30
    window_s: float = 900.0
    lock_s: float = 900.0


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    retry_after_s: int = 0  # for LOCKED: whole seconds until the lock ends


@dataclass(slots=True)
class _Record:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0

    def recent(self, now: float, window_s: float) -> int:
        while self.failures and self.failures[0] <= now - window_s:
            self.failures.popleft()
        return len(self.failures)


class LoginThrottle:
    """Failed-login bookkeeping for accounts (``user:<name>``) and addresses (``ip:<address>``)."""

    def __init__(self, rules: ThrottleRules | None = None, max_keys: int = 100_000) -> None:
        self.rules = rules or ThrottleRules()
        self.max_keys = max_keys
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def _keys(self, account: str, address: str) -> tuple[str, str]:
        return f"user:{account.strip().lower()}", f"ip:{address}"

    def _record(self, key: str) -> _Record:
        record = self._records.get(key)
        if record is None:
            record = self._records[key] = _Record()
            while len(self._records) > self.max_keys:
                self._records.popitem(last=False)
        self._records.move_to_end(key)
        return record

    def check(self, account: str, address: str, now: float) -> Decision:
        """What a login attempt for ``account`` from ``address`` needs now."""
        captcha = False
        locked_until = 0.0
        for key in self._keys(account, address):
            record = self._records.get(key)
            if record is None:
                continue
            locked_until = max(locked_until, record.locked_until)
            recently_locked = record.locked_until + self.rules.window_s > now
            if recently_locked or record.recent(now, self.rules.window_s) >= self.rules.captcha_after:
                captcha = True
        if locked_until > now:
            return Decision(Verdict.LOCKED, max(1, math.ceil(locked_until - now)))
        return Decision(Verdict.CAPTCHA if captcha else Verdict.OPEN)

    def failed(self, account: str, address: str, now: float, *, against_account: bool = True) -> None:
        """A wrong password (``against_account``), or a missing/wrong captcha (the address only)."""
        user_key, ip_key = self._keys(account, address)
        targets = [(ip_key, self.rules.address_lock_after)]
        if against_account:
            targets.append((user_key, self.rules.lock_after))
        for key, limit in targets:
            record = self._record(key)
            record.failures.append(now)
            if record.recent(now, self.rules.window_s) >= limit:
                record.locked_until = now + self.rules.lock_s
                record.failures.clear()

    def succeeded(self, account: str, address: str) -> None:
        self._records.pop(self._keys(account, address)[0], None)

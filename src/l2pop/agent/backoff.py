"""Jittered exponential backoff between retries against the server."""

from __future__ import annotations

import random

from l2pop.agent.config import BackoffPolicy

__all__ = ["Backoff"]


class Backoff:
    """Successive waits grow by ``policy.factor`` up to ``policy.maximum``; ``reset``
    after a success. Each wait is jittered down by up to ``policy.jitter``."""

    def __init__(self, policy: BackoffPolicy, rng: random.Random | None = None) -> None:
        self._policy = policy
        self._rng = rng or random.Random()
        self._failures = 0

    @property
    def failures(self) -> int:
        return self._failures

    def reset(self) -> None:
        self._failures = 0

    def next_delay(self) -> float:
        """The wait before the next attempt; counts one more failure."""
        p = self._policy
        # The exponent is capped so that a long outage cannot overflow the float.
        base = min(p.maximum, p.initial * p.factor ** min(self._failures, 60))
        self._failures += 1
        return base * (1.0 - p.jitter * self._rng.random())

"""pytest fixtures for tests that drive the simulator over AMI (import them into a test module).

``sim``: a started ``PBXSimulator`` at speed 100 (a 10 s call takes 0.1 s); ``client``: an
``AMIRecorder`` logged in to it that has seen FullyBooted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from cti.simulator.recorder import AMIRecorder
from cti.simulator.server import PBXSimulator

TEST_SPEED = 100.0


@pytest.fixture
async def sim() -> AsyncIterator[PBXSimulator]:
    async with PBXSimulator(speed=TEST_SPEED) as simulator:
        yield simulator


@pytest.fixture
async def client(sim: PBXSimulator) -> AsyncIterator[AMIRecorder]:
    async with sim.client() as recorder:
        yield recorder

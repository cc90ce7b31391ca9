"""Fixtures of the live tests: the whole product against the real Asterisk of asterisk-dev.

``product`` (module scope) is a :class:`tests.live.harness.Product`: the runtime of ``callcenter serve``
(AMI bridge, FastAGI server on the PBX's ``CC_TEST_AGI_PORT``, statistics writer, live board, recording
index, websocket hub) and the web app under uvicorn, with a fresh SQLite database for the module.
It offers:

- ``runtime``, ``settings``, ``url`` (the web base URL), ``pbx`` (``tests.live_pbx.RealPBX``);
- ``events``: every bus event seen, in order; ``mark()`` is the index of the next one;
  ``await wait_event(predicate, timeout=60, since=0, what=...)`` returns the first match from ``since`` on
  or fails the test listing the events that came; ``await wait_call_event(call, "call.ended", **fields)``;
  ``await ended(call)`` waits for ``call.ended`` and for every consumer (history writer, board, index) to
  have taken it; ``await settled()`` only the latter; ``of_call(call_id, type)`` filters what was seen;
- ``ami``: an ``AMIRecorder`` logged in to the PBX (its own login, not the bridge's); ``await action(name, **f)``
  sends one action and asserts success; ``await cli(command)`` runs a CLI command;
- ``db()``: a SQLAlchemy session on the product's database (``with product.db() as s: ...``);
- ``await client(username)``: an ``httpx.AsyncClient`` with a bearer token for ``admin``, ``supervisor`` or
  ``agent1001`` .. ``agent1004`` (extensions 1001 .. 1004; password ``harness.PASSWORD``);
  ``await wallboard_queue(queue)``: the queue's row of ``/api/monitor/wallboard``;
- callers and agents as in the recorded transcripts: ``await queue_add(queue, ext)`` / ``queue_remove``
  (AMI QueueAdd of ``Local/<ext>@agents/n`` with ``StateInterface=Custom:<ext>``; returns once the product
  shows the agent in the queue); ``await call(number, queue=, agent_talk=, caller_s=, record=, survey=)``
  originates ``Local/<number>@from-pstn`` playing music on hold for ``caller_s`` seconds and returns a
  ``PlacedCall`` whose ``call_id`` (the Linkedid) is known before it rings; ``await hangup_caller(call)``;
  ``await press(call, digits)`` sends DTMF from the caller (PlayDTMF on his ;1 leg).
  A simulated agent answers after 2 s of ringing and hangs up after ``agent_talk`` seconds
  (``"echo"``: never; hang up the caller instead).

Every inbound call first runs the flow ``ivr`` over FastAGI; in the harness it is a router straight to the
queue the call names (``QUEUE``, default support); a test may save another flow through the admin API.
After each test (``pbx_idle``) the members it added leave the queues, its callers are hung up and the
agents' device states are reset. Test modules need
``pytestmark = [pytest.mark.asterisk, pytest.mark.asyncio(loop_scope="module")]`` (the product and the
tests share the module's event loop).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.live.harness import Product, start_product
from tests.live_pbx import real_pbx


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def product(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Product]:
    pbx = real_pbx()
    started, stop = await start_product(pbx, tmp_path_factory.mktemp("live-product"))
    try:
        yield started
    finally:
        await stop()


@pytest_asyncio.fixture(loop_scope="module", autouse=True)
async def pbx_idle(product: Product) -> AsyncIterator[None]:
    yield
    await product.reset()

"""Demo traffic for ``callcenter demo``: a realistic mix of calls from many callers to many agents.

``TrafficGenerator`` logs agents ``1001..10NN`` into the queues, then starts calls at random
(Poisson) times: answered queue calls, recorded ones, abandons, ring-no-answer then the next
agent, click-to-dial, blind and attended transfers, holds and voicemail. Callers come from a
pool (so some call back), with Chinese names; agents now and then take a short break (置忙) and
come back by themselves. When given the FastAGI address, every inbound call also runs the IVR flow
there, as Asterisk's ``AGI(agi://…/ivr)`` would, and surveyed calls the survey flow.

It behaves like a staffed center, not an overloaded one: arrivals are paced to what the agents who
are in can take (``occupancy`` of their time at ``HANDLE_S`` a call), at most a fifth of the agents
are on a break at once, and a caller who finds nobody free mostly waits for the next agent (the
call is placed when one is free) and sometimes gives up, so the abandon rate stays near what a
center sees (about 5-10 %). Times are the simulated PBX's: at ``speed`` 10 a minute of traffic
takes six seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cti.simulator.calls import CallRun
from cti.simulator.scenarios import ScenarioError

if TYPE_CHECKING:
    from cti.simulator.server import PBXSimulator

log = logging.getLogger(__name__)

MIX: tuple[tuple[str, int], ...] = (
    ("inbound_answered", 22),
    ("inbound_survey", 14),
    ("inbound_recorded", 16),
    ("inbound_abandon", 5),
    ("ring_no_answer_next_agent", 8),
    ("click_to_dial", 10),
    ("blind_transfer", 5),
    ("attended_transfer", 4),
    ("three_way", 3),
    ("hold", 7),
    ("voicemail", 7),
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红娥玲芬燕彬鹏辉建国志强晓东海燕"
PAUSE_REASONS = ("午休", "培训", "会议", "Lunch")
HANDLE_S = 60.0  # mean time a queue call keeps an agent (ring, talk, wrap-up), simulated seconds
OCCUPANCY = 0.65  # the share of the available agents' time the arrivals ask for
BREAK_EVERY_S = 150.0  # mean time between two breaks, simulated seconds
BREAK_S = (30.0, 120.0)  # how long a break lasts
GIVE_UP = 0.15  # the share of callers who give up rather than wait when nobody is free
WAIT_TICK_S = 1.0
MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "158",
    "159",
    "186",
    "187",
    "188",
    "189",
)


def make_callers(count: int, rng: random.Random) -> list[tuple[str, str]]:
    """Distinct caller numbers (mobiles and Shanghai/Beijing landlines) with names."""
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    while len(out) < count:
        if rng.random() < 0.8:
            number = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        else:
            number = rng.choice(("021", "010")) + f"{rng.randrange(10**8):08d}"
        if number in seen:
            continue
        seen.add(number)
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        out.append((number, name))
    return out


class TrafficGenerator:
    def __init__(
        self,
        sim: PBXSimulator,
        agents: int = 10,
        callers: Sequence[tuple[str, str]] | None = None,
        seed: int | None = None,
        agi: tuple[str, int] | None = None,
        *,
        paced: bool = False,
    ) -> None:
        """``paced``: the demo's staffed center (arrivals in simulated minutes, capped to what the agents
        can take, callers waiting for a free agent); without it ``calls_per_minute`` are placed per
        minute of wall-clock time whoever is free, as load tests want."""
        self.sim = sim
        self.paced = paced
        self.rng = random.Random(seed)
        self.extensions = [f"{1001 + i}" for i in range(agents)]
        self.callers = list(callers) if callers else make_callers(400, self.rng)
        self.agi = agi
        self.running: set[CallRun] = set()
        self.started: dict[str, int] = {}
        self.waiting: list[float] = []  # callers waiting for a free agent: the simulated time they came
        self.gave_up: dict[str, int] = {}  # why callers abandoned: mix (the scenario), busy, patience
        self.breaks: dict[str, float] = {}  # agent on a break -> simulated time the break ends
        self.speed = float(getattr(sim.pbx, "speed", 1.0) or 1.0)
        self._tasks: set[asyncio.Task[None]] = set()

    def login_agents(self) -> None:
        queues = list(self.sim.pbx.state.queues)
        for i, ext in enumerate(self.extensions):
            for q, queue in enumerate(queues):
                if q == 0 or i % 2 == 0:
                    with contextlib.suppress(Exception):  # already logged in
                        self.sim.pbx.login_agent(queue, ext)

    def pace(self, calls_per_minute: float) -> float:
        """Arrivals per simulated minute: paced, as asked but never more than the agents who are in can
        take; else ``calls_per_minute`` of wall-clock time."""
        if not self.paced:
            return calls_per_minute / self.speed
        present = max(1, len(self.extensions) - len(self.breaks))
        return min(calls_per_minute, OCCUPANCY * present * 60.0 / HANDLE_S)

    async def run(self, calls_per_minute: float, stop: asyncio.Event) -> None:
        if calls_per_minute <= 0:
            raise ScenarioError("calls_per_minute must be positive")
        self.login_agents()
        log.info(
            "demo traffic: %.1f calls/min asked, %.1f placed for %d agents (speed %.1f)",
            calls_per_minute,
            self.pace(calls_per_minute),
            len(self.extensions),
            self.speed,
        )
        now = 0.0  # simulated seconds since the start
        next_call = self.rng.expovariate(self.pace(calls_per_minute) / 60)
        next_break = self.rng.expovariate(1 / BREAK_EVERY_S)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=WAIT_TICK_S / self.speed)
            if stop.is_set():
                break
            now += WAIT_TICK_S
            self.end_breaks(now)
            if now >= next_break:
                self.take_break(now)
                next_break = now + self.rng.expovariate(1 / BREAK_EVERY_S)
            self.serve_waiting(now)
            while now >= next_call:
                self.arrive(now)
                next_call += self.rng.expovariate(self.pace(calls_per_minute) / 60)

    def arrive(self, now: float) -> None:
        """A caller comes: placed now, or waiting for a free agent (and a few give up at once)."""
        if not self.paced or self._free_agents():
            self.start_call()
        elif self.rng.random() < GIVE_UP:
            self.gave_up["busy"] = self.gave_up.get("busy", 0) + 1
            self.start_call("inbound_abandon")
        else:
            self.waiting.append(now)

    def serve_waiting(self, now: float) -> None:
        """Callers who waited get the agents that came free; one who waited too long gives up."""
        while self.waiting and self._free_agents():
            self.waiting.pop(0)
            self.start_call()
        patience = 90.0
        while self.waiting and now - self.waiting[0] > patience:
            self.waiting.pop(0)
            self.gave_up["patience"] = self.gave_up.get("patience", 0) + 1
            self.start_call("inbound_abandon")

    def start_call(self, name: str = "") -> CallRun | None:
        names = [name for name, _ in MIX]
        name = name or self.rng.choices(names, weights=[w for _, w in MIX])[0]
        try:
            params = self._params(name)
            run = self.sim.start_scenario(name, **params)
        except ScenarioError:
            if name in ("click_to_dial", "voicemail"):
                return None
            number, caller_name = self.rng.choice(self.callers)
            params = {
                "caller": number,
                "caller_name": caller_name,
                "talk": "40",
                "moh": "30",
                "crm_contact_id": "",
            }
            name = "inbound_answered"
            try:
                run = self.sim.start_scenario(name, **params)
            except ScenarioError:
                name = "inbound_abandon"  # nobody free: the caller waits, then gives up
                self.gave_up["fallback"] = self.gave_up.get("fallback", 0) + 1
                run = self.sim.start_scenario(name, **params)
        self.started[name] = self.started.get(name, 0) + 1
        self.running.add(run)
        task = asyncio.get_running_loop().create_task(self._track(run, name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return run

    async def _track(self, run: CallRun, name: str) -> None:
        try:
            if self.agi is not None and name != "click_to_dial" and name != "voicemail":
                await self._ivr(run)
            if self.agi is not None and name == "inbound_survey" and await run.through("talk"):
                await self._survey(run)
            await run.done.wait()
        finally:
            self.running.discard(run)

    async def _ivr(self, run: CallRun) -> None:
        from cti.simulator.fastagi_client import AgiScript, run_fastagi_call

        await run.started.wait()
        if "u1" not in run.binding or self.agi is None:
            return
        b = run.binding
        script = AgiScript(
            flow="ivr",
            caller=b["caller"],
            caller_name=b.get("caller_name", ""),
            uniqueid=b["u1"],
            linkedid=b["u0"],
            channel=f"Local/{b['caller']}@from-pstn-{b['s0']};2",
            dtmf=[self.rng.choice(("1", "2", "3", None))],
        )
        try:
            await run_fastagi_call(self.agi[0], self.agi[1], script)
        except (OSError, TimeoutError) as exc:
            log.debug("IVR session for %s failed: %s", b["caller"], exc)

    async def _survey(self, run: CallRun) -> None:
        """The caller's AGI(…/survey) after the agent hung up (Queue option c), one key pressed."""
        from cti.simulator.fastagi_client import AgiScript, run_fastagi_call

        b = run.binding
        if self.agi is None:
            return
        script = AgiScript(
            flow="survey",
            caller=b["caller"],
            caller_name=b.get("caller_name", ""),
            uniqueid=b["u1"],
            linkedid=b["u0"],
            channel=f"Local/{b['caller']}@from-pstn-{b['s0']};2",
            dtmf=[self.rng.choice(("5", "5", "4", "3", "2", "1", None))],
            variables={"MEMBERNAME": b.get("agent_name", ""), "MEMBERINTERFACE": f"Local/{b['agent']}@agents/n"},
        )
        try:
            await run_fastagi_call(self.agi[0], self.agi[1], script)
        except (OSError, TimeoutError) as exc:
            log.debug("survey session for %s failed: %s", b["caller"], exc)

    async def wait_idle(self) -> None:
        """Until every call this generator started has ended."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _free_agents(self) -> list[str]:
        """Agents in no call, not on a break and not paused (after-call work is a pause too)."""
        state = self.sim.pbx.state
        return [
            ext
            for ext in self.extensions
            if ext not in self.breaks
            and not state.agent_busy(ext)
            and any(self._available_in(name, ext) for name in state.queues)
        ]

    def _params(self, name: str) -> dict[str, str]:
        number, caller_name = self.rng.choice(self.callers)
        talk = str(round(min(180.0, max(8.0, self.rng.lognormvariate(3.3, 0.5)))))
        params = {
            "caller": number,
            "caller_name": caller_name,
            "talk": talk,
            "crm_contact_id": "",
            "ivr_choice": self.rng.choice(("1", "2", "3")),
        }
        queues = list(self.sim.pbx.state.queues)
        params["queue"] = queues[0] if self.rng.random() < 0.65 or len(queues) == 1 else queues[1]
        if name != "inbound_abandon" and not any(self._available_in(params["queue"], e) for e in self.extensions):
            # nobody of that queue is free: the IVR sends the caller to a queue with someone free
            params["queue"] = next(
                (q for q in queues if any(self._available_in(q, e) for e in self.extensions)), params["queue"]
            )
        if name == "inbound_abandon":
            params["moh"] = str(self.rng.randint(8, 60))  # most callers who give up waited a while
        free = self._free_agents()
        self.rng.shuffle(free)
        if name == "click_to_dial":
            if not free:
                raise ScenarioError("no free agent to place the call")
            return {"agent": free[0], "number": number, "talk": talk}
        if name == "voicemail":
            return {
                "caller": number,
                "caller_name": caller_name,
                "mailbox": self.rng.choice(["100", *self.extensions]),
                "moh": str(self.rng.randint(10, 40)),
            }
        if name in ("blind_transfer", "attended_transfer", "three_way", "ring_no_answer_next_agent"):
            member_free = [ext for ext in free if self._available_in(params["queue"], ext)]
            if len(free) < 2 or not member_free:
                raise ScenarioError("not enough free agents for this scenario")
            first = member_free[0]
            params.update(agent=first, agent2=next(ext for ext in free if ext != first))
        if name == "hold":
            params["hold"] = str(self.rng.randint(5, 40))
        if name == "three_way":
            params["room"] = str(self.rng.randrange(10**8, 10**9))  # as the desk names its rooms
        return params

    def _available_in(self, queue: str, extension: str) -> bool:
        state = self.sim.pbx.state
        member = state.queues[queue].members.get(f"Local/{extension}@agents/n")
        return member is not None and state.is_available(member)

    def _member_of_any_queue(self, ext: str) -> bool:
        return any(f"Local/{ext}@agents/n" in q.members for q in self.sim.pbx.state.queues.values())

    def take_break(self, now: float) -> str | None:
        """One agent who is free takes a short break, if fewer than a fifth of them are on one."""
        if len(self.breaks) >= max(1, len(self.extensions) // 5):
            return None
        free = [ext for ext in self._free_agents() if ext not in self.breaks and self._member_of_any_queue(ext)]
        if len(free) < 2:  # the last free agent stays for the callers
            return None
        ext = self.rng.choice(free)
        with contextlib.suppress(Exception):
            self.sim.pbx.pause_agent(ext, True, reason=self.rng.choice(PAUSE_REASONS))
            self.breaks[ext] = now + self.rng.uniform(*BREAK_S)
        return ext

    def end_breaks(self, now: float) -> None:
        for ext, until in list(self.breaks.items()):
            if now >= until:
                del self.breaks[ext]
                with contextlib.suppress(Exception):
                    self.sim.pbx.pause_agent(ext, False)

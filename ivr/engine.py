"""The pure IVR flow engine: given a flow and the caller's inputs, say what to do next.

``FlowEngine.start()`` returns the first :class:`Action`; the shell performs it and calls
``resume(result)`` with the outcome (digits for :class:`Collect`, a dict or None for lookups, the
value for :class:`GetVar`, None otherwise) until a terminal action (:class:`Route`, :class:`Transfer`,
:class:`Voicemail`, :class:`Hangup`). Each finished node visit is recorded as a :class:`Step`.
No I/O and no clock: the local time comes in on the :class:`CallContext`.

Anything that goes wrong inside a flow (a bug, a loop, a shell-reported missing prompt) ends in a
fallback :class:`Route` to the default queue, never in an exception towards the caller.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ivr.calendar import BusinessCalendar
from ivr.flow import (
    BranchNode,
    CallbackNode,
    Flow,
    HangupNode,
    InputNode,
    LookupNode,
    MenuNode,
    Node,
    PlayNode,
    QueueNode,
    SetNode,
    SurveyNode,
    Test,
    TransferNode,
    VoicemailNode,
)
from ivr.survey import NOT_RATED, parse_score, resolve_agent

MAX_STEPS = 200
_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")


# --- actions -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Action:
    """Base of everything the engine asks the shell to do."""

    @property
    def terminal(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class Play(Action):
    file: str


@dataclass(frozen=True, slots=True)
class SayDigits(Action):
    digits: str


@dataclass(frozen=True, slots=True)
class Collect(Action):
    """Play ``prompt`` and collect up to ``max_digits`` keys (``#`` ends early). Result: the digits."""

    prompt: str
    max_digits: int
    timeout_s: float


@dataclass(frozen=True, slots=True)
class GetVar(Action):
    name: str


@dataclass(frozen=True, slots=True)
class SetVar(Action):
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class LookupCustomer(Action):
    number: str


@dataclass(frozen=True, slots=True)
class LookupOrder(Action):
    order_no: str


@dataclass(frozen=True, slots=True)
class CreateCallback(Action):
    number: str
    note: str


@dataclass(frozen=True, slots=True)
class ScoreSurvey(Action):
    agent: str
    score: int
    scale: int
    extension: str | None = None


@dataclass(frozen=True, slots=True)
class Terminal(Action):
    @property
    def terminal(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class Route(Terminal):
    """Send the caller to ``queue``; ``fallback`` marks the default-queue route after a failure."""

    queue: str
    priority: int = 0
    fallback: bool = False
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Transfer(Terminal):
    target: str


@dataclass(frozen=True, slots=True)
class Voicemail(Terminal):
    mailbox: str


@dataclass(frozen=True, slots=True)
class Hangup(Terminal):
    pass


@dataclass(frozen=True, slots=True)
class Step:
    """One node visit, published as ``ivr.step``."""

    node: str
    input: str | None
    result: str


@dataclass(frozen=True, slots=True)
class CallContext:
    call_id: str
    caller: str = ""
    caller_name: str = ""
    now: datetime | None = None
    calendar: BusinessCalendar | None = None
    args: tuple[str, ...] = ()
    fallback_queue: str = "support"
    variables: Mapping[str, str] = field(default_factory=dict)


class EngineFinished(RuntimeError):
    """``resume`` after a terminal action."""


class FlowFailure(Exception):
    """A problem inside a flow that sends the caller to the fallback queue."""


_Run = Generator[Action, Any, Terminal]


# --- the engine ----------------------------------------------------------------------------------


class FlowEngine:
    def __init__(self, flow: Flow, context: CallContext) -> None:
        self.flow = flow
        self.context = context
        self.steps: list[Step] = []
        self.vars: dict[str, str] = {
            "caller": context.caller,
            "caller_name": context.caller_name,
            "call_id": context.call_id,
            **context.variables,
        }
        self.customer: Mapping[str, Any] | None = None
        self.node: str = flow.start
        self.fallback_reason: str | None = None
        self._customer_checked = False
        self._run: _Run | None = None
        self._finished: Terminal | None = None

    # -- public -----------------------------------------------------------------------------------

    def start(self) -> Action:
        self._run = self._walk()
        return self._advance(None, first=True)

    def resume(self, result: Any = None) -> Action:
        if self._finished is not None or self._run is None:
            raise EngineFinished(f"flow {self.flow.name} already ended with {self._finished}")
        return self._advance(result)

    def fail(self, reason: str) -> Route:
        """The shell could not carry out the last action (e.g. a missing prompt): go to the fallback."""
        if self._run is not None:
            self._run.close()
        return self._fallback(reason)

    def take_steps(self) -> list[Step]:
        steps, self.steps = self.steps, []
        return steps

    @property
    def finished(self) -> Terminal | None:
        return self._finished

    # -- driving the walk -------------------------------------------------------------------------

    def _advance(self, result: Any, first: bool = False) -> Action:
        assert self._run is not None
        try:
            action = next(self._run) if first else self._run.send(result)
        except StopIteration as stop:
            action = stop.value
        except Exception as exc:  # any flow problem means the fallback, never a crash
            return self._fallback(f"{type(exc).__name__}: {exc}")
        if action.terminal:
            assert isinstance(action, Terminal)
            self._finished = action
            self._run.close()
        return action

    def _fallback(self, reason: str) -> Route:
        self.fallback_reason = reason
        self.steps.append(Step(self.node, None, "fallback"))
        route = Route(self.flow.fallback_queue or self.context.fallback_queue, 0, True, reason)
        self._finished = route
        return route

    def _walk(self) -> _Run:
        visits = 0
        node_id: str | None = self.flow.start
        while node_id is not None:
            visits += 1
            if visits > MAX_STEPS:
                raise FlowFailure(f"more than {MAX_STEPS} node visits (a loop?)")
            node = self.flow.nodes.get(node_id)
            if node is None:
                raise FlowFailure(f"unknown node {node_id!r}")
            self.node = node_id
            outcome = yield from self._visit(node)
            if isinstance(outcome, Terminal):
                return outcome
            node_id = outcome
        raise FlowFailure("the flow ended without a queue, transfer, voicemail or hangup")

    def _visit(self, node: Node) -> Generator[Action, Any, str | Terminal | None]:
        handler = getattr(self, f"_on_{type(node).__name__}")
        result: str | Terminal | None = yield from handler(node)
        return result

    def _step(self, node: Node, given: str | None, result: str) -> None:
        self.steps.append(Step(node.id, given, result))

    def render(self, template: str) -> str:
        return _FIELD.sub(lambda m: self.vars.get(m.group(1), ""), template)

    # -- caller facts -----------------------------------------------------------------------------

    def _ensure_customer(self) -> Generator[Action, Any, Mapping[str, Any] | None]:
        if not self._customer_checked:
            self._customer_checked = True
            found = yield LookupCustomer(self.context.caller)
            self._remember_customer(found)
        return self.customer

    def _remember_customer(self, found: Any) -> None:
        self.customer = found if isinstance(found, Mapping) else None
        for key in ("id", "name", "category"):
            value = self.customer.get(key) if self.customer else None
            self.vars[f"customer.{key}"] = "" if value is None else str(value)

    def _caller_is(self, what: str, customer: Mapping[str, Any] | None) -> bool:
        if what == "known":
            return customer is not None
        if what == "unknown":
            return customer is None
        return bool(customer and customer.get(what))

    def _calendar_is(self, what: str) -> bool:
        calendar, now = self.context.calendar, self.context.now
        if calendar is None or now is None:
            return what == "open"
        if what in ("open", "closed"):
            return calendar.is_open(now) == (what == "open")
        return calendar.day_kind(now.date()) == what

    def _test(self, test: Test) -> Generator[Action, Any, bool]:
        if test.kind == "calendar":
            return self._calendar_is(test.value)
        if test.kind == "caller":
            customer = yield from self._ensure_customer()
            return self._caller_is(test.value, customer)
        value = self.vars.get(test.value)
        if test.op == "set":
            return bool(value) == bool(test.operand)
        if value is None:
            return False
        if test.op == "equals":
            return value == test.operand
        if test.op == "in":
            return value in test.operand
        return re.fullmatch(str(test.operand), value) is not None

    # -- node handlers (named _on_<NodeClass>) ----------------------------------------------------

    def _on_PlayNode(self, node: PlayNode) -> Generator[Action, Any, str]:
        yield Play(self.render(node.file))
        if node.say_digits:
            digits = "".join(ch for ch in self.render(node.say_digits) if ch.isdigit())
            if digits:
                yield SayDigits(digits)
        self._step(node, None, "played")
        return node.next

    def _on_MenuNode(self, node: MenuNode) -> Generator[Action, Any, str | Terminal]:
        for _ in range(node.retries + 1):
            digits = _digits((yield Collect(self.render(node.prompt), 1, node.timeout_s)))
            if digits in node.options:
                self._step(node, digits, "option")
                return node.options[digits]
            problem = "timeout" if digits == "" else "invalid"
            self._step(node, digits or None, problem)
            retry_prompt = node.timeout_prompt if problem == "timeout" else None
            retry_prompt = retry_prompt or node.invalid_prompt
            if retry_prompt:
                yield Play(self.render(retry_prompt))
        return self._exhausted(node, node.on_failure)

    def _on_InputNode(self, node: InputNode) -> Generator[Action, Any, str | Terminal]:
        for _ in range(node.retries + 1):
            digits = _digits((yield Collect(self.render(node.prompt), node.max_length, node.timeout_s)))
            valid = node.min_length <= len(digits) <= node.max_length and (
                node.pattern is None or re.fullmatch(node.pattern, digits) is not None
            )
            if valid:
                self.vars[node.var] = digits
                self._step(node, digits, "ok")
                return node.next
            self._step(node, digits or None, "timeout" if digits == "" else "invalid")
            if node.invalid_prompt:
                yield Play(self.render(node.invalid_prompt))
        return self._exhausted(node, node.on_failure)

    def _exhausted(self, node: Node, on_failure: str | None) -> str | Terminal:
        self._step(node, None, "failed")
        if on_failure:
            return on_failure
        return self._fallback(f"{node.id}: no valid input")

    def _on_BranchNode(self, node: BranchNode) -> Generator[Action, Any, str]:
        for rule in node.rules:
            matched = yield from self._test(rule.test)
            if matched:
                self._step(node, None, f"{rule.test.kind}:{rule.test.value}")
                return rule.next
        self._step(node, None, "else")
        return node.default

    def _on_LookupNode(self, node: LookupNode) -> Generator[Action, Any, str]:
        number = self.render(node.number)
        if node.lookup == "order":
            order = yield LookupOrder(number)
            found: Mapping[str, Any] | None = order if isinstance(order, Mapping) else None
            for key, value in (found or {}).items():
                if isinstance(value, str | int | float):
                    self.vars[f"order.{key}"] = str(value)
        elif number == self.context.caller:
            found = yield from self._ensure_customer()
        else:
            looked_up = yield LookupCustomer(number)
            found = looked_up if isinstance(looked_up, Mapping) else None
            self._remember_customer(found)
        if found is None:
            self._step(node, number or None, "not_found")
            return node.not_found
        if node.lookup == "customer":
            yield from self._greet(node, found)
            category = str(found.get("category") or "")
            if category in node.categories:
                self._step(node, number, f"category:{category}")
                return node.categories[category]
        self._step(node, number, "found")
        return node.found

    def _greet(self, node: LookupNode, customer: Mapping[str, Any]) -> Generator[Action, Any, None]:
        if customer.get("id") is not None:
            yield SetVar("__CRM_CUSTOMER_ID", str(customer["id"]))
        if customer.get("name"):
            yield SetVar("CRM_CUSTOMER_NAME", str(customer["name"]))
        if node.greet:
            yield Play(self.render(node.greet))

    def _on_QueueNode(self, node: QueueNode) -> Generator[Action, Any, Terminal]:
        priority = node.priority
        if node.vip_priority is not None:
            customer = yield from self._ensure_customer()
            if self._caller_is("vip", customer):
                priority = node.vip_priority
        if node.prompt:
            yield Play(self.render(node.prompt))
        queue = self.render(node.queue)
        self._step(node, None, f"queue:{queue}")
        return Route(queue, priority)

    def _on_TransferNode(self, node: TransferNode) -> Generator[Action, Any, Terminal]:
        if node.prompt:
            yield Play(self.render(node.prompt))
        target = self.render(node.target)
        self._step(node, None, f"transfer:{target}")
        return Transfer(target)

    def _on_VoicemailNode(self, node: VoicemailNode) -> Generator[Action, Any, Terminal]:
        if node.prompt:
            yield Play(self.render(node.prompt))
        mailbox = self.render(node.mailbox)
        self._step(node, None, f"voicemail:{mailbox}")
        return Voicemail(mailbox)

    def _on_CallbackNode(self, node: CallbackNode) -> Generator[Action, Any, str]:
        digits = _digits((yield Collect(self.render(node.prompt), node.max_length, node.timeout_s)))
        number = digits if node.min_length <= len(digits) <= node.max_length else self.context.caller
        if not number:
            self._step(node, digits or None, "no_number")
            return node.next
        yield CreateCallback(number, self.render(node.note))
        if node.done_prompt:
            yield Play(self.render(node.done_prompt))
        self._step(node, number, "created")
        return node.next

    def _on_SurveyNode(self, node: SurveyNode) -> Generator[Action, Any, str | Terminal]:
        name = interface = None
        if not (self.context.args and self.context.args[0].strip()):
            name = _text((yield GetVar("MEMBERNAME")))
            interface = _text((yield GetVar("MEMBERINTERFACE")))
        agent = resolve_agent(self.context.args, name, interface)
        for _ in range(node.retries + 1):
            digits = _digits((yield Collect(self.render(node.prompt), 1, node.timeout_s)))
            score = parse_score(digits, node.scale)
            if score is not None:
                yield ScoreSurvey(agent.agent, score, node.scale, agent.extension)
                self._step(node, digits, "scored")
                if node.thanks_prompt:
                    yield Play(self.render(node.thanks_prompt))
                return node.next or Hangup()
            if digits and node.invalid_prompt:
                yield Play(self.render(node.invalid_prompt))
        self._step(node, None, NOT_RATED)
        return node.next or Hangup()

    def _on_SetNode(self, node: SetNode) -> Generator[Action, Any, str]:
        for name, template in node.vars.items():
            value = self.render(template)
            self.vars[name] = value
            yield SetVar(name, value)
        self._step(node, None, "set")
        return node.next

    def _on_HangupNode(self, node: HangupNode) -> Generator[Action, Any, Terminal]:
        if node.prompt:
            yield Play(self.render(node.prompt))
        self._step(node, None, "hangup")
        return Hangup()


def _digits(result: Any) -> str:
    """Collect results are key strings; anything else counts as no input."""
    if not isinstance(result, str):
        return ""
    return "".join(ch for ch in result if ch.isdigit() or ch in "*#")


def _text(result: Any) -> str | None:
    return result if isinstance(result, str) else None

"""The recorded pieces the scenarios are cut from: ranges, gates and roles fit the transcripts."""

from __future__ import annotations

import pytest

from cti.simulator import composed, scenarios
from cti.simulator.scenarios import Piece
from cti.simulator.templates import TemplateError, compile_template, is_sent, load_template, render

PIECES = {
    name: value
    for name, value in [*vars(scenarios).items(), *vars(composed).items()]
    if isinstance(value, Piece)
}


@pytest.mark.parametrize("name", sorted(PIECES))
def test_piece_is_a_run_of_recorded_events(name: str) -> None:
    piece = PIECES[name]
    by_seq = {m["_seq"]: m for m in load_template(piece.spec.file)}
    assert by_seq[piece.first]["_kind"] == "event" and by_seq[piece.last]["_kind"] == "event"
    inside = [m for s, m in by_seq.items() if piece.first <= s <= piece.last]
    # only replies to actions the simulator answers itself may sit inside a piece; the three-way's
    # move into the conference interleaves with the Originate of the third party, which it answers
    if name != "CONFERENCE_MOVE":
        assert all(m["_kind"] == "event" or m.get("Message") != "Originate successfully queued" for m in inside)
    assert len(piece.steps()) == sum(1 for m in inside if is_sent(m)) - len(piece.skip)


@pytest.mark.parametrize("name", sorted(PIECES))
def test_gates_sit_on_the_recorded_silences(name: str) -> None:
    piece = PIECES[name]
    events = list(compile_template(piece.spec))
    for seq, gate in piece.gates:
        index = next(i for i, e in enumerate(events) if e.seq == seq)
        silence = events[index].t - events[index - 1].t
        if gate.param in ("talk", "moh"):
            assert silence > 1.0, f"{name}: gate {gate.param} at {seq} follows {silence:.3f}s only"


def test_roles_replace_every_call_specific_literal() -> None:
    texts = [v for step in scenarios.INBOUND_ANSWERED.steps() for _, v in step.headers]
    joined = "\n".join(texts)
    for literal in ("5551234", "1795451209.", "00000001", "96d90c5f", "2026-11-23", "Agent 1001"):
        assert literal not in joined
    assert "⟦caller_name⟧" in joined and "⟦u3⟧" in joined and "⟦b0⟧" in joined


def test_render_fills_roles_and_clock() -> None:
    value = "q-⟦queue⟧-⟦fd:-2⟧-⟦u1⟧.wav started ⟦dt:0⟧"
    rendered = render(value, {"queue": "sales", "u1": "1800000000.7"}, now=1800000000.0)
    assert rendered == "q-sales-20270115-075958-1800000000.7.wav started 2027-01-15 08:00:00"
    with pytest.raises(TemplateError, match="no value bound for role 'agent'"):
        render("⟦agent⟧", {}, now=0.0)


def test_unknown_template_is_a_clear_error() -> None:
    with pytest.raises(TemplateError, match="no transcript template named"):
        load_template("99_nothing")

"""The demo's data: orders at every step of the order workflow, each one its handler can take on, a
knowledge base to search, and ``callcenter demo --reset`` that starts the data and passwords anew."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from agent_desk import cli_serve
from config import Settings
from crm_core.auth import verify_password
from crm_core.models import KbArticle, Order, User, Workflow
from crm_core.seed import seed_demo
from crm_core.services import content, orders
from crm_core.services.workflow import can_handle

pytest_plugins = ["crm_core.testing"]
STEP_FIELDS = {
    "shipping": {"carrier": "顺丰速运", "tracking_number": "SF1234567890"},
    "followup": {"note": "客户满意"},
}


def _handler(session: Session, order: Order, step: object) -> User:
    """Who takes the order on at this step: its owner, the supervisor of its department, or the admin."""
    users = {u.username: u for u in session.scalars(select(User))}
    for user in (session.get(User, order.owner_id), users["supervisor"], users["admin"]):
        if user is not None and can_handle(user, step, "order"):  # type: ignore[arg-type]
            try:
                orders.history(session, user, order.id)  # the order is in his data scope
            except Exception:
                continue
            return user
    raise AssertionError(f"nobody can handle order {order.number}")


def test_seeded_orders_stand_at_every_step_and_each_can_be_taken_on(db: Session) -> None:
    seed_demo(db, customers=300, password="demo-password-1")
    db.commit()
    flow = db.scalars(select(Workflow).where(Workflow.kind == "order")).first()
    assert flow is not None
    steps = list(flow.steps)
    seeded = list(db.scalars(select(Order)))
    assert seeded and all(o.workflow_id == flow.id for o in seeded)
    waiting = {
        s.position: [o for o in seeded if o.status == "in_approval" and o.step_position == s.position] for s in steps
    }
    assert all(waiting.values()), {s.action: len(waiting[s.position]) for s in steps}
    assert any(o.status == "draft" for o in seeded) and any(o.status == "completed" for o in seeded)
    for index, step in enumerate(steps):
        order = waiting[step.position][0]
        user = _handler(db, order, step)
        fields = dict(STEP_FIELDS.get(step.action, {}))
        if step.action == "payment":
            fields["paid_amount"] = str(order.total)
        moved = orders.approve(db, user, order.id, fields)
        if index + 1 < len(steps):
            assert (moved.status, moved.step_position) == ("in_approval", steps[index + 1].position)
        else:
            assert moved.status == "completed"
    draft = next(o for o in seeded if o.status == "draft")
    assert orders.submit(db, db.get(User, draft.owner_id), draft.id).step_position == steps[0].position  # type: ignore[arg-type]


def test_the_knowledge_base_is_seeded_and_found(db: Session) -> None:
    seed_demo(db, customers=50, password="demo-password-1")
    db.commit()
    assert len(list(db.scalars(select(KbArticle).where(KbArticle.status == "published")))) >= 6
    agent = db.scalars(select(User).where(User.username == "1007")).one()
    titles = [a.title for a in content.search_articles(db, agent, "退货")]
    assert titles and titles[0].startswith("退换货规则")


def test_demo_reset_removes_the_data_so_it_is_seeded_with_new_passwords(tmp_path: Path, monkeypatch: object) -> None:
    data = tmp_path / "var"
    (data / "journal").mkdir(parents=True)
    (data / "monitor").mkdir()
    (data / "callcenter.db").write_bytes(b"old demo")
    (data / "journal" / "000000000001.jsonl").write_text("{}\n")
    (data / "monitor" / "q-support-1.wav").write_bytes(b"RIFF")
    outside = tmp_path / "pbx-spool"
    outside.mkdir()
    (outside / "keep.wav").write_bytes(b"RIFF")
    settings = Settings(_env_file=None, data_dir=data, recordings_dir=data / "monitor", voicemail_dir=outside)  # type: ignore[call-arg]
    removed = cli_serve.reset_demo_data(settings)
    assert not (data / "callcenter.db").exists() and not (data / "journal").exists()
    assert not (data / "monitor").exists() and (outside / "keep.wav").exists()  # a spool outside var is not ours
    assert data / "callcenter.db" in removed

    served: list[Settings] = []
    monkeypatch.setattr(cli_serve, "get_settings", lambda: settings)  # type: ignore[attr-defined]
    monkeypatch.setattr(cli_serve, "_serve", lambda s, demo, info=None: served.append(s))  # type: ignore[attr-defined]
    (data / "callcenter.db").write_bytes(b"old demo")
    app = __import__("typer").Typer()
    cli_serve.register(app)
    result = CliRunner().invoke(app, ["demo", "--reset"])
    assert result.exit_code == 0, result.output
    assert "callcenter.db" in result.output and not (data / "callcenter.db").exists()
    assert "1007-1010" in result.output and "1001-1006" in result.output
    assert "--reset" in result.output and "one-time" not in result.output.lower()
    assert len(served) == 1


async def test_after_a_reset_the_demo_is_seeded_again_with_a_new_password(tmp_path: Path, capsys: object) -> None:
    from agent_desk.runtime import Runtime
    from crm_core.db import make_engine, make_sessionmaker, migrate

    settings = Settings(_env_file=None, data_dir=tmp_path / "var", demo_customers=20)  # type: ignore[call-arg]
    passwords = []
    for _ in range(2):
        cli_serve.reset_demo_data(settings)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        migrate(settings.effective_database_url)
        runtime = Runtime(settings, demo=True)
        await runtime._start_demo()
        runtime.engine.dispose()
        out = capsys.readouterr().out  # type: ignore[attr-defined]
        assert "password:" in out and "one-time" not in out.lower()
        passwords.append(out.split("password:")[1].split()[0])
        engine = make_engine(settings.effective_database_url)
        with make_sessionmaker(engine)() as session:
            admin = session.scalars(select(User).where(User.username == "admin")).one()
            assert verify_password(admin.password_hash, passwords[-1])
        engine.dispose()
    assert passwords[0] != passwords[1]

"""CRM commands: ``migrate``, ``user add``, ``user passwd``, ``import FILE``, ``export``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from config import get_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


def _sessionmaker() -> sessionmaker[Session]:
    from crm_core.db import make_engine, make_sessionmaker

    return make_sessionmaker(make_engine(get_settings().effective_database_url))


PASSWORD_OPTION = typer.Option(
    ...,
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="CC_NEW_USER_PASSWORD",
    help="Asked for when not given.",
)


def _change_users(change: Callable[[Session], object], done: str) -> None:
    """Run ``change`` in one transaction; a service error becomes a usage error with its message."""
    from crm_core.db import session_scope
    from crm_core.errors import CrmError

    try:
        with session_scope(_sessionmaker()) as session:
            change(session)
    except CrmError as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(done)


def register(app: typer.Typer) -> None:
    users = typer.Typer(help="Manage users. 管理用户。", no_args_is_help=True)

    @app.command()
    def migrate() -> None:
        """Create or upgrade the database schema (every package's tables). 创建或升级数据库结构。"""
        from crm_core.db import migrate as run

        url = get_settings().effective_database_url
        run(url)
        typer.echo(f"database is up to date: {url.split('@')[-1]}")

    @users.command("add")
    def user_add(
        username: str = typer.Argument(..., help="Login name."),
        role: list[str] = typer.Option(["agent"], "--role", help="admin, supervisor, agent, quality (repeatable)."),
        display_name: str = typer.Option("", help="Name shown in the desk."),
        extension: str = typer.Option("", help="Extension bound to the user."),
        password: str = PASSWORD_OPTION,
    ) -> None:
        """Add a user. 添加用户。"""
        from crm_core.services.users import create_user

        _change_users(
            lambda session: create_user(
                session,
                username,
                password,
                roles=role,
                display_name=display_name,
                extension=extension or None,
            ),
            f"user added: {username}",
        )

    @users.command("passwd")
    def user_passwd(
        username: str = typer.Argument(..., help="Login name."),
        password: str = PASSWORD_OPTION,
    ) -> None:
        """Set a user's password. 修改密码。"""
        from crm_core.services.users import set_password

        _change_users(lambda session: set_password(session, username, password), f"password changed: {username}")

    app.add_typer(users, name="user")

    @app.command("import")
    def import_file(
        file: Path = typer.Argument(..., exists=True, dir_okay=False, help="Customers: .xlsx, .csv or .txt."),
        valid_only: bool = typer.Option(
            False,
            "--valid-only",
            help="Import the valid rows and write FILE.errors.csv (default: all or nothing).",
        ),
    ) -> None:
        """Import customers; every row is checked first. 导入客户：先校验每一行。"""
        from crm_core.db import session_scope
        from crm_core.errors import CrmError
        from crm_core.importer import error_report, import_customers

        settings = get_settings()
        with typer.progressbar(length=1, label="导入 importing") as bar:

            def progress(done: int, total: int) -> None:
                bar.length = max(total, 1)
                bar.update(done - bar.pos)

            try:
                with session_scope(_sessionmaker()) as session:
                    report = import_customers(
                        session,
                        file.read_bytes(),
                        file.name,
                        valid_only=valid_only,
                        progress=progress,
                        region=settings.default_region,
                        area_code=settings.default_area_code,
                    )
            except CrmError as exc:
                typer.echo(f"\n{exc}", err=True)
                raise typer.Exit(2) from exc
        for error in report.errors[:20]:
            typer.echo(f"第 {error.row} 行 row {error.row}, {error.column}: {error.message}", err=True)
        if report.errors:
            errors_file = file.with_name(file.name + ".errors.csv")
            errors_file.write_bytes(error_report(report))
            typer.echo(f"{len(report.errors)} errors, report: {errors_file}", err=True)
        typer.echo(
            f"imported {report.imported} of {report.total} rows "
            f"({report.created} created, {report.updated} updated, {report.skipped} unchanged)"
        )
        if report.errors and not valid_only:
            raise typer.Exit(1)

    @app.command("export")
    def export_file(
        output: Path = typer.Option(Path("customers.xlsx"), "--output", "-o", help="File to write (.xlsx/.csv/.txt)."),
        orders: bool = typer.Option(False, "--orders", help="Export order lines instead of customers."),
        per_customer: bool = typer.Option(False, "--per-customer", help="Orders: one Excel sheet per customer."),
        language: str = typer.Option("", help="Headers and names in zh-CN or en (default: CC_LANGUAGE)."),
    ) -> None:
        """Export customers or orders; text stays text. 导出客户或订单。"""
        from crm_core.exporter import export_customers, export_orders

        fmt = output.suffix.lower().lstrip(".")
        if fmt not in ("xlsx", "csv", "txt"):
            raise typer.BadParameter("output must end in .xlsx, .csv or .txt")
        lang = language or get_settings().language
        if lang not in ("zh-CN", "en"):
            raise typer.BadParameter("--language must be zh-CN or en")
        with _sessionmaker()() as session:
            if orders:
                data = export_orders(session, None, fmt, per_customer, lang)
            else:
                data = export_customers(session, None, fmt, lang)
        output.write_bytes(data)
        typer.echo(f"written: {output} ({len(data)} bytes)")

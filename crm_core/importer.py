"""Import customers from Excel, CSV or TXT.

Every row is validated before anything is written, and errors name the row and the column.
By default an import is all-or-nothing: one bad row and nothing is stored. With ``valid_only`` the
valid rows go in and the report lists the rest (``error_report`` makes a downloadable CSV of it).

A row matches an existing customer by its id (the export's 客户编号 / Customer ID column; an id this
database does not have counts as none), else by its phone numbers; a match is updated (the row's
non-empty cells replace the stored values, new phone numbers and the contact are added, nothing
stored is removed), a row that would change nothing is
skipped, the rest are created. So the product's own export imports back as updates. A phone number
twice in the file, of another customer than the row's id, of several customers, or of a customer
outside the user's scope is an error. ``dry_run`` plans without writing: the report then says what
would be created, updated and skipped, row by row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from crm_core import audit
from crm_core.errors import InvalidInput
from crm_core.models import Contact, Customer, CustomFieldDef, Phone, User, utcnow
from crm_core.permissions import check, visible_customer_ids
from crm_core.phone import PhoneError, normalize
from crm_core.schemas import input_schema
from crm_core.services.customers import custom_value
from crm_core.sheet_layout import Column, customer_columns, split_phones, value_code
from crm_core.tabular import detect_format, read_rows, write_text
from crm_core.xlsx_reader import ReadLimits

Progress = Callable[[int, int], None]
# Core tables: plain multi-row INSERTs, without the ORM's per-row bookkeeping.
CUSTOMERS: Table = Customer.__table__  # type: ignore[assignment]
CONTACTS: Table = Contact.__table__  # type: ignore[assignment]
PHONES: Table = Phone.__table__  # type: ignore[assignment]
BATCH = 2_000
KEY_CHUNK = 900  # stays under SQLite's bound-parameter limit
CUSTOMER_FIELDS = ("name", "kind", "category", "region", "source", "level", "status", "address", "notes")
CustomerRow = input_schema(
    Customer,
    exclude=frozenset(c.key for c in Customer.__table__.columns) - set(CUSTOMER_FIELDS),
    name="CustomerImportRow",
)
ContactRow = input_schema(
    Contact, exclude=frozenset({"customer_id", "birthday", "is_primary"}), name="ContactImportRow"
)


@dataclass(frozen=True)
class RowError:
    row: int  # as the user sees it in the file: the header is row 1
    column: str
    message: str


@dataclass(frozen=True)
class RowPlan:
    row: int
    action: str  # create | update | skip
    customer_id: int | None
    name: str
    changes: tuple[str, ...] = ()  # the columns an update changes


@dataclass
class ImportReport:
    total: int = 0
    imported: int = 0  # created + updated
    errors: list[RowError] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    skipped: int = 0
    dry_run: bool = False
    plan: list[RowPlan] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class _Parsed:
    line: int
    customer: dict[str, Any]
    phones: list[tuple[str, str, str, str]]  # raw, key, kind, extension
    contact: dict[str, Any] | None
    contact_phones: list[tuple[str, str, str, str]]
    customer_id: int | None = None  # the id cell: the customer this row updates
    owner_given: bool = False
    target: Customer | None = None  # the existing customer matched (by id, else by phone)


class _Validator:
    def __init__(self, session: Session, columns: list[Column], header: list[str], region: str, area_code: str):
        self.region, self.area_code = region, area_code
        by_name = (
            {c.label.strip().lower(): c for c in columns}
            | {c.label_en.strip().lower(): c for c in columns if c.label_en}
            | {c.key.lower(): c for c in columns}
        )
        self.errors: list[RowError] = []
        self.positions: list[Column | None] = []
        for index, title in enumerate(header):
            column = by_name.get(title.strip().lower())
            if column is None and title.strip():
                self.errors.append(RowError(1, title[:50], f"未知列 unknown column (position {index + 1})"))
            self.positions.append(column)
        if not any(c is not None and c.key == "name" for c in self.positions):
            self.errors.append(RowError(1, "客户名称", "缺少必需列 required column missing: 客户名称 / name"))
        self.defs = {
            d.key: d for d in session.scalars(select(CustomFieldDef).where(CustomFieldDef.entity == "customer"))
        }
        self.owners: dict[str, int] = {name: uid for name, uid in session.execute(select(User.username, User.id))}
        self.seen_keys: dict[str, int] = {}

    def row(self, line: int, cells: list[str]) -> _Parsed | None:
        values = {c.key: (cells[i] if i < len(cells) else "") for i, c in enumerate(self.positions) if c}
        values = {key: value_code(key, value) for key, value in values.items()}  # "企业" / "Company" -> company
        label = {c.key: c.label for c in self.positions if c}
        before = len(self.errors)

        def fail(key: str, message: str) -> None:
            self.errors.append(RowError(line, label.get(key, key), message))

        customer: dict[str, Any] = {k: v for k, v in values.items() if k in CUSTOMER_FIELDS and v != ""}
        try:
            customer = CustomerRow.model_validate(customer).model_dump(exclude_unset=True)
        except ValidationError as exc:
            for problem in exc.errors():
                fail(str(problem["loc"][0]) if problem["loc"] else "name", problem["msg"])
        custom: dict[str, Any] = {}
        for key, spec in self.defs.items():
            raw = values.get(f"custom.{key}", "")
            if raw == "":
                if spec.required:
                    fail(f"custom.{key}", "必填 required")
                continue
            try:
                custom[key] = custom_value(spec, raw)
            except InvalidInput as exc:
                fail(f"custom.{key}", str(exc))
        owner = values.get("owner", "")
        owner_id = self.owners.get(owner) if owner else None
        if owner and owner_id is None:
            fail("owner", f"用户不存在 no such user: {owner[:50]}")
        raw_id = values.get("id", "").strip()
        if raw_id and not (raw_id.isascii() and raw_id.isdigit() and 0 < int(raw_id) < 2**31):
            fail("id", f"客户编号须为正整数 the customer id must be a whole number: {raw_id[:20]}")
        phones = self._phones(line, values.get("phones", ""), "phones", fail)
        contact = None
        contact_phones: list[tuple[str, str, str, str]] = []
        if values.get("contact_name"):
            try:
                contact = ContactRow.model_validate(
                    {"name": values["contact_name"], "position": values.get("contact_position", "")}
                ).model_dump(exclude_unset=True)
            except ValidationError as exc:
                fail("contact_name", exc.errors()[0]["msg"])
            contact_phones = self._phones(line, values.get("contact_phones", ""), "contact_phones", fail)
        if len(self.errors) > before:
            return None
        customer.update(custom=custom, owner_id=owner_id)
        parsed = _Parsed(line, customer, phones, contact, contact_phones, int(raw_id) if raw_id else None, bool(owner))
        return parsed

    def _phones(
        self, line: int, cell: str, key: str, fail: Callable[[str, str], None]
    ) -> list[tuple[str, str, str, str]]:
        found = []
        for raw in split_phones(cell):
            try:
                if len(raw) > 50:
                    raise PhoneError("电话过长 phone number too long")
                phone = normalize(raw, self.region, self.area_code)
            except PhoneError as exc:
                fail(key, str(exc))
                continue
            first = self.seen_keys.setdefault(phone.key, line)
            if first != line:
                fail(key, f"电话 {raw} 与第 {first} 行重复 duplicate of row {first}")
                continue
            found.append((raw, phone.key, phone.kind, phone.extension))
        return found


def _existing_keys(session: Session, keys: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(keys), KEY_CHUNK):
        chunk = keys[start : start + KEY_CHUNK]
        for key, customer_id in session.execute(select(Phone.key, Phone.customer_id).where(Phone.key.in_(chunk))):
            found[key] = customer_id
    return found


def import_customers(
    session: Session,
    data: bytes,
    filename: str,
    *,
    user: User | None = None,
    valid_only: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
    region: str = "CN",
    area_code: str = "",
    limits: ReadLimits | None = None,
) -> ImportReport:
    """Validate and match every row, then create and update them (all, or with ``valid_only`` the valid
    ones); ``dry_run`` only plans (nothing written, the report's ``plan`` says what would happen).

    ``user`` None is the command line (no permission checks). Raises :class:`TableFileError` for a
    file that is not what it claims or is damaged, :class:`TableTooLarge` for one past ``limits``
    (unpacked size, rows, cells); the caller's transaction is then untouched.
    """
    if user is not None:
        check(user, "customer", "import")
    rows = list(read_rows(data, detect_format(filename, data[:8192]), limits))
    if not rows:
        raise InvalidInput("文件是空的 the file is empty", "file")
    validator = _Validator(session, customer_columns(session), rows[0], region, area_code)
    report = ImportReport(total=len(rows) - 1, dry_run=dry_run)
    parsed: list[_Parsed] = []
    if not validator.errors:
        for index, cells in enumerate(rows[1:], start=2):
            if not any(cells):
                report.total -= 1
                continue
            item = validator.row(index, cells)
            if item is not None:
                parsed.append(item)
            if progress and index % 1000 == 0:
                progress(index - 1, report.total * 2)
    parsed = _match(session, parsed, validator, user)
    report.errors = sorted(validator.errors, key=lambda e: (e.row, e.column))
    changes = {id(item): _changes(session, item) for item in parsed if item.target is not None}
    if user is not None:
        _check_owners(user, parsed, changes)
    report.plan = [_plan(item, changes.get(id(item))) for item in parsed]
    report.created = sum(1 for p in report.plan if p.action == "create")
    report.updated = sum(1 for p in report.plan if p.action == "update")
    report.skipped = sum(1 for p in report.plan if p.action == "skip")
    if dry_run:
        return report
    if report.errors and not valid_only:  # all or nothing: nothing is written
        report.created = report.updated = report.skipped = 0
        return report
    creates = [item for item in parsed if item.target is None]
    for item in creates:
        item.customer.setdefault("status", "active" if item.customer["owner_id"] else "pool")
    _store(session, creates, user, report, progress)
    for item in parsed:
        if item.target is not None and changes[id(item)]:
            _update(session, item)
    report.imported = report.created + report.updated
    audit.record(
        session,
        user,
        "import",
        "customer",
        "",
        {"file": filename[:100], "created": report.created, "updated": report.updated, "skipped": report.skipped},
    )
    return report


def _check_owners(user: User, parsed: list[_Parsed], changes: dict[int, list[str]]) -> None:
    """Giving a customer to someone else is a transfer; changing stored customers needs ``update``."""
    for item in parsed:
        changed = changes.get(id(item))
        new_owner = item.customer["owner_id"] not in (None, user.id)
        if new_owner and (item.target is None or "owner" in (changed or [])):
            check(user, "customer", "transfer")
            break
    if any(changes.values()):
        check(user, "customer", "update")


def _plan(item: _Parsed, changes: list[str] | None) -> RowPlan:
    name = str(item.customer.get("name") or (item.target.name if item.target else ""))
    if item.target is None:
        return RowPlan(item.line, "create", None, name)
    action = "update" if changes else "skip"
    return RowPlan(item.line, action, item.target.id, name, tuple(changes or ()))


def _match(session: Session, parsed: list[_Parsed], validator: _Validator, user: User | None) -> list[_Parsed]:
    """Find each row's customer (by id, else by phone); rows whose match breaks a rule are errors."""
    known = _existing_keys(session, list(validator.seen_keys))
    wanted = {item.customer_id for item in parsed if item.customer_id} | set(known.values())
    customers = _customers(session, sorted(wanted))
    visible = set(customers) if user is None else visible_customer_ids(session, user, customers)
    kept = []
    for item in parsed:
        owners = {
            key: known[key] for raw, key, _, _ in item.phones + item.contact_phones if key in known
        }  # phone key -> the customer holding it
        raws = {key: raw for raw, key, _, _ in item.phones + item.contact_phones}

        def fail(column: str, message: str, line: int = item.line) -> None:
            validator.errors.append(RowError(line, column, message))

        target = customers.get(item.customer_id) if item.customer_id is not None else None
        if target is not None:  # an id this database does not know (another system's) matches by phone
            if target.status == "merged" or target.id not in visible:
                fail("客户编号", f"客户 #{target.id} 已合并或不在您的范围内 merged or outside your scope")
                continue
            clash = {key: cid for key, cid in owners.items() if cid != target.id}
        else:
            holders = set(owners.values())
            target = customers.get(holders.pop()) if len(holders) == 1 else None
            if target is not None and (target.id not in visible or target.status == "merged"):
                target = None
            clash = {key: cid for key, cid in owners.items() if target is None or cid != target.id}
        if clash:
            for key, cid in clash.items():
                fail("电话", f"电话 {raws[key]} 已属于客户 #{cid} already belongs to a customer")
            continue
        item.target = target
        kept.append(item)
    return kept


def _customers(session: Session, ids: list[int]) -> dict[int, Customer]:
    found: dict[int, Customer] = {}
    for start in range(0, len(ids), KEY_CHUNK):
        for customer in session.scalars(select(Customer).where(Customer.id.in_(ids[start : start + KEY_CHUNK]))):
            found[customer.id] = customer
    return found


def _stored_phone_keys(session: Session, customer_id: int) -> set[str]:
    return set(session.scalars(select(Phone.key).where(Phone.customer_id == customer_id)))


def _changes(session: Session, item: _Parsed) -> list[str]:
    """The columns the row would change on its customer; empty when it changes nothing."""
    target = item.target
    assert target is not None
    changed = [k for k, v in item.customer.items() if k in CUSTOMER_FIELDS and getattr(target, k) != v]
    custom = {**(target.custom or {}), **item.customer["custom"]}
    if custom != (target.custom or {}):
        changed.append("custom")
    if item.owner_given and item.customer["owner_id"] != target.owner_id:
        changed.append("owner")
    stored = _stored_phone_keys(session, target.id)
    if any(key not in stored for _, key, _, _ in item.phones):
        changed.append("phones")
    if item.contact:
        contact = _contact_named(session, target.id, item.contact["name"])
        if contact is None or any(getattr(contact, k) != v for k, v in item.contact.items() if v != ""):
            changed.append("contact_name")
        if any(key not in stored for _, key, _, _ in item.contact_phones):
            changed.append("contact_phones")
    return changed


def _contact_named(session: Session, customer_id: int, name: str) -> Contact | None:
    return session.scalars(
        select(Contact).where(Contact.customer_id == customer_id, Contact.name == name).order_by(Contact.id)
    ).first()


def _update(session: Session, item: _Parsed) -> None:
    """Write the row's non-empty cells on its customer; phones and the contact are added, never removed."""
    target = item.target
    assert target is not None
    for key, value in item.customer.items():
        if key in CUSTOMER_FIELDS:
            setattr(target, key, value)
    target.custom = {**(target.custom or {}), **item.customer["custom"]}
    if item.owner_given and item.customer["owner_id"] != target.owner_id:
        target.owner_id = item.customer["owner_id"]
        target.claimed_at = utcnow()
    stored = _stored_phone_keys(session, target.id)
    contact_id = None
    if item.contact:
        contact = _contact_named(session, target.id, item.contact["name"])
        if contact is None:
            contact = Contact(customer_id=target.id, **item.contact)
            session.add(contact)
        else:
            for key, value in item.contact.items():
                if value != "":
                    setattr(contact, key, value)
        session.flush()
        contact_id = contact.id
    for phones, owner in ((item.phones, None), (item.contact_phones, contact_id)):
        for raw, key, kind, ext in phones:
            if key not in stored:
                session.add(Phone(customer_id=target.id, contact_id=owner, raw=raw, key=key, kind=kind, extension=ext))
                stored.add(key)
    session.flush()


def _store(
    session: Session,
    parsed: list[_Parsed],
    user: User | None,
    report: ImportReport,
    progress: Progress | None,
) -> None:
    now = utcnow()
    department = user.department_id if user else None
    creator = user.id if user else None
    for start in range(0, len(parsed), BATCH):
        batch = parsed[start : start + BATCH]
        customer_rows = [
            {
                "kind": "company",
                "category": "",
                "region": "",
                "source": "",
                "level": "",
                "address": "",
                "notes": "",
                **item.customer,
                "department_id": department,
                "created_by": creator,
                "claimed_at": now if item.customer["owner_id"] else None,
                "created_at": now,
                "updated_at": now,
            }
            for item in batch
        ]
        ids = session.scalars(
            CUSTOMERS.insert().returning(CUSTOMERS.c.id, sort_by_parameter_order=True), customer_rows
        ).all()
        with_contact = [(cid, item) for cid, item in zip(ids, batch, strict=True) if item.contact]
        contact_ids: list[int] = []
        if with_contact:
            contact_ids = list(
                session.scalars(
                    CONTACTS.insert().returning(CONTACTS.c.id, sort_by_parameter_order=True),
                    [
                        {
                            "customer_id": cid,
                            "gender": "",
                            "email": "",
                            "notes": "",
                            "position": "",
                            "is_primary": True,
                            **(item.contact or {}),
                            "created_at": now,
                            "updated_at": now,
                        }
                        for cid, item in with_contact
                    ],
                ).all()
            )
        phones = [
            {
                "customer_id": cid,
                "contact_id": None,
                "raw": raw,
                "key": key,
                "kind": kind,
                "extension": ext,
                "label": "",
                "created_at": now,
            }
            for cid, item in zip(ids, batch, strict=True)
            for raw, key, kind, ext in item.phones
        ] + [
            {
                "customer_id": cid,
                "contact_id": contact_id,
                "raw": raw,
                "key": key,
                "kind": kind,
                "extension": ext,
                "label": "",
                "created_at": now,
            }
            for (cid, item), contact_id in zip(with_contact, contact_ids, strict=True)
            for raw, key, kind, ext in item.contact_phones
        ]
        if phones:
            session.execute(PHONES.insert(), phones)
        report.imported += len(batch)
        if progress:
            progress(report.total + report.imported, report.total * 2)


def error_report(report: ImportReport) -> bytes:
    """The rows that were not imported, as CSV: row, column, message."""
    return write_text(
        ["行 row", "列 column", "错误 error"], ([e.row, e.column, e.message] for e in report.errors), "csv"
    )

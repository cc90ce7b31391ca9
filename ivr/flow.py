"""IVR flows as data: the node model, YAML loading with line numbers, validation, and a reloading library.

A flow file looks like::

    description: 主菜单
    start: welcome
    nodes:
      welcome: {type: play, file: custom/welcome, next: menu}
      menu:
        type: menu
        prompt: custom/main-menu
        options: {"1": sales, "2": support}

Every problem found is reported with its line, e.g. ``ivr.yaml:14: nodes.menu.options.2: ...``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

FLOW_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
NODE_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
DTMF_KEY = re.compile(r"^[0-9*#]$")
TEMPLATE_FIELD = re.compile(r"\{([^{}]*)\}")
TEMPLATE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
CALLER_TESTS = ("vip", "blacklisted", "known", "unknown")
CALENDAR_TESTS = ("open", "closed", "holiday", "workday")

Path_ = tuple[str | int, ...]


# --- model ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Test:
    """One branch test: ``calendar``, ``caller`` or ``var`` (``equals`` / ``in`` / ``matches`` / ``set``)."""

    kind: Literal["calendar", "caller", "var"]
    value: str
    op: Literal["is", "equals", "in", "matches", "set"] = "is"
    operand: Any = None


@dataclass(frozen=True, slots=True)
class Rule:
    test: Test
    next: str


@dataclass(frozen=True, slots=True)
class Node:
    """Fields shared by every node; the type-specific ones live on the subclasses."""

    id: str
    line: int


@dataclass(frozen=True, slots=True)
class PlayNode(Node):
    file: str
    next: str
    say_digits: str | None = None


@dataclass(frozen=True, slots=True)
class MenuNode(Node):
    prompt: str
    options: Mapping[str, str]
    timeout_s: float = 5.0
    retries: int = 3
    invalid_prompt: str | None = None
    timeout_prompt: str | None = None
    on_failure: str | None = None


@dataclass(frozen=True, slots=True)
class InputNode(Node):
    prompt: str
    var: str
    next: str
    min_length: int = 1
    max_length: int = 20
    pattern: str | None = None
    timeout_s: float = 8.0
    retries: int = 2
    invalid_prompt: str | None = None
    on_failure: str | None = None


@dataclass(frozen=True, slots=True)
class BranchNode(Node):
    rules: tuple[Rule, ...]
    default: str


@dataclass(frozen=True, slots=True)
class LookupNode(Node):
    lookup: Literal["customer", "order"]
    found: str
    not_found: str
    number: str = "{caller}"
    greet: str | None = None
    categories: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class QueueNode(Node):
    queue: str
    priority: int = 0
    vip_priority: int | None = None
    prompt: str | None = None


@dataclass(frozen=True, slots=True)
class TransferNode(Node):
    target: str
    prompt: str | None = None


@dataclass(frozen=True, slots=True)
class VoicemailNode(Node):
    mailbox: str
    prompt: str | None = None


@dataclass(frozen=True, slots=True)
class CallbackNode(Node):
    prompt: str
    next: str
    done_prompt: str | None = None
    min_length: int = 5
    max_length: int = 15
    timeout_s: float = 10.0
    note: str = "IVR callback / IVR 回拨请求"


@dataclass(frozen=True, slots=True)
class SurveyNode(Node):
    prompt: str
    next: str | None = None
    scale: int = 5
    timeout_s: float = 6.0
    retries: int = 1
    invalid_prompt: str | None = None
    thanks_prompt: str | None = None


@dataclass(frozen=True, slots=True)
class SetNode(Node):
    vars: Mapping[str, str]
    next: str


@dataclass(frozen=True, slots=True)
class HangupNode(Node):
    prompt: str | None = None


@dataclass(frozen=True, slots=True)
class Flow:
    name: str
    start: str
    nodes: Mapping[str, Node]
    description: str = ""
    fallback_queue: str | None = None
    source: str = ""


# --- errors --------------------------------------------------------------------------------------

MESSAGES: dict[str, tuple[str, str]] = {
    "yaml": ("YAML 语法错误：{detail}", "YAML syntax error: {detail}"),
    "mapping": ("应为映射（键: 值）", "expected a mapping (key: value)"),
    "required": ("缺少必填字段 {detail}", "missing required field {detail}"),
    "unknown_field": ("未知字段 {detail}", "unknown field {detail}"),
    "type": ("类型错误：应为{detail}", "wrong type: expected {detail}"),
    "node_type": ("未知节点类型 {detail}", "unknown node type {detail}"),
    "ref": ("指向不存在的节点 {detail}", "points to unknown node {detail}"),
    "node_id": ("节点名无效 {detail}", "invalid node name {detail}"),
    "dtmf": ("按键无效 {detail}（0-9、*、#）", "invalid key {detail} (0-9, *, #)"),
    "regex": ("正则表达式无效：{detail}", "invalid regular expression: {detail}"),
    "range": ("取值超出范围：{detail}", "value out of range: {detail}"),
    "template": ("模板字段无效 {detail}", "invalid template field {detail}"),
    "test": ("分支条件无效：{detail}", "invalid branch test: {detail}"),
    "empty": ("流程没有节点", "the flow has no nodes"),
    "name": ("流程名无效 {detail}", "invalid flow name {detail}"),
}


@dataclass(frozen=True, slots=True)
class FlowIssue:
    line: int
    path: str
    code: str
    detail: str = ""

    def text(self, language: str = "zh-CN") -> str:
        zh, en = MESSAGES[self.code]
        return (zh if language == "zh-CN" else en).format(detail=self.detail)

    def format(self, source: str, language: str = "zh-CN") -> str:
        where = f"{source}:{self.line}" if self.line else source
        field_path = f" {self.path}:" if self.path else ""
        return f"{where}:{field_path} {self.text(language)}"


class FlowError(Exception):
    """Base of the flow errors."""


class FlowValidationError(FlowError):
    """A flow file that cannot be used; ``issues`` lists every problem with its line."""

    def __init__(self, source: str, issues: list[FlowIssue]) -> None:
        self.source = source
        self.issues = sorted(issues, key=lambda issue: issue.line)
        super().__init__("\n".join(issue.format(source) for issue in self.issues))

    def lines(self, language: str = "zh-CN") -> list[str]:
        return [issue.format(self.source, language) for issue in self.issues]


class FlowNotFound(FlowError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"流程不存在 / no such flow: {name!r}")


# --- YAML with line numbers ----------------------------------------------------------------------


def _compose(text: str) -> tuple[Any, dict[Path_, int]]:
    """Parse YAML into plain values and a map from each value's path to its 1-based line."""
    lines: dict[Path_, int] = {}

    def convert(node: yaml.Node, path: Path_) -> Any:
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = yaml.safe_load(yaml.serialize(key_node)) if key_node.tag != "tag:yaml.org,2002:str" \
                    else key_node.value
                key = str(key) if not isinstance(key, str) else key
                lines[(*path, key)] = key_node.start_mark.line + 1
                out[key] = convert(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [convert(item, (*path, i)) for i, item in enumerate(node.value)]
        return yaml.safe_load(yaml.serialize(node))

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    return (convert(root, ()) if root is not None else None), lines


class _Checker:
    """Collects issues while reading one flow document."""

    def __init__(self, lines: Mapping[Path_, int]) -> None:
        self.lines = lines
        self.issues: list[FlowIssue] = []
        self.references: list[tuple[Path_, str]] = []

    def line_of(self, path: Path_) -> int:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 0)

    def add(self, path: Path_, code: str, detail: str = "") -> None:
        self.issues.append(FlowIssue(self.line_of(path), ".".join(str(p) for p in path), code, detail))


# --- field readers -------------------------------------------------------------------------------

Reader = Callable[[_Checker, Path_, Any], Any]


def _text(check: _Checker, path: Path_, value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        check.add(path, "type", "text / 文本")
        return None
    text = str(value)
    for name in TEMPLATE_FIELD.findall(text):
        if not TEMPLATE_NAME.match(name):
            check.add(path, "template", repr(name))
    return text


def _integer(low: int, high: int) -> Reader:
    def read(check: _Checker, path: Path_, value: Any) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            check.add(path, "type", "integer / 整数")
            return None
        if not low <= value <= high:
            check.add(path, "range", f"{value} ({low}..{high})")
            return None
        return value

    return read


def _seconds(check: _Checker, path: Path_, value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        check.add(path, "type", "seconds / 秒数")
        return None
    if not 0 < value <= 120:
        check.add(path, "range", f"{value} (0..120 s)")
        return None
    return float(value)


def _regex(check: _Checker, path: Path_, value: Any) -> str | None:
    text = _text(check, path, value)
    if text is None:
        return None
    try:
        re.compile(text)
    except re.error as exc:
        check.add(path, "regex", str(exc))
        return None
    return text


def _node_ref(check: _Checker, path: Path_, value: Any) -> str | None:
    if not isinstance(value, str):
        check.add(path, "type", "node name / 节点名")
        return None
    check.references.append((path, value))
    return value


def _node_map(check: _Checker, path: Path_, value: Any) -> dict[str, str] | None:
    if not isinstance(value, dict) or not value:
        check.add(path, "mapping")
        return None
    out = {}
    for key, target in value.items():
        ref = _node_ref(check, (*path, key), target)
        if ref is not None:
            out[str(key)] = ref
    return out


def _options(check: _Checker, path: Path_, value: Any) -> dict[str, str] | None:
    for key in value if isinstance(value, dict) else ():
        if not DTMF_KEY.match(str(key)):
            check.add((*path, key), "dtmf", repr(key))
    return _node_map(check, path, value)


def _text_map(check: _Checker, path: Path_, value: Any) -> dict[str, str] | None:
    if not isinstance(value, dict):
        check.add(path, "mapping")
        return None
    out = {}
    for key, item in value.items():
        text = _text(check, (*path, key), item)
        if text is not None:
            out[str(key)] = text
    return out


def _choice(*allowed: str) -> Reader:
    def read(check: _Checker, path: Path_, value: Any) -> str | None:
        if value not in allowed:
            check.add(path, "range", f"{value!r} ({' / '.join(allowed)})")
            return None
        return str(value)

    return read


def _test(check: _Checker, path: Path_, raw: Any) -> Test | None:
    if not isinstance(raw, dict):
        check.add(path, "mapping")
        return None
    if "calendar" in raw:
        if raw["calendar"] not in CALENDAR_TESTS:
            check.add((*path, "calendar"), "test", f"calendar: {' / '.join(CALENDAR_TESTS)}")
            return None
        return Test("calendar", str(raw["calendar"]))
    if "caller" in raw:
        if raw["caller"] not in CALLER_TESTS:
            check.add((*path, "caller"), "test", f"caller: {' / '.join(CALLER_TESTS)}")
            return None
        return Test("caller", str(raw["caller"]))
    if "var" in raw and isinstance(raw["var"], str) and TEMPLATE_NAME.match(raw["var"]):
        for op in ("equals", "in", "matches", "set"):
            if op in raw:
                operand = raw[op]
                if op == "matches" and _regex(check, (*path, op), operand) is None:
                    return None
                if op == "in" and not isinstance(operand, list):
                    check.add((*path, op), "type", "list / 列表")
                    return None
                if op == "in":
                    operand = tuple(str(item) for item in operand)
                elif op != "set":
                    operand = str(operand)
                return Test("var", raw["var"], op, operand)
        check.add(path, "test", "var needs equals / in / matches / set")
        return None
    check.add(path, "test", "use calendar / caller / var")
    return None


def _rules(check: _Checker, path: Path_, value: Any) -> tuple[Rule, ...] | None:
    if not isinstance(value, list) or not value:
        check.add(path, "type", "list of rules / 规则列表")
        return None
    rules = []
    for index, raw in enumerate(value):
        if not isinstance(raw, dict) or "if" not in raw or "next" not in raw:
            check.add((*path, index), "test", "each rule needs if and next / 需要 if 和 next")
            continue
        test = _test(check, (*path, index, "if"), raw["if"])
        target = _node_ref(check, (*path, index, "next"), raw["next"])
        if test is not None and target is not None:
            rules.append(Rule(test, target))
    return tuple(rules)


# type -> (class, {yaml field: (attribute, reader, required)}); node references are checked afterwards
_F = tuple[str, Reader, bool]


def _fields(*specs: tuple[str, str, Reader, bool]) -> dict[str, _F]:
    return {key: (attribute, reader, required) for key, attribute, reader, required in specs}


_PROMPT = ("prompt", "prompt", _text, True)
_PROMPT_OPT = ("prompt", "prompt", _text, False)
_NEXT = ("next", "next", _node_ref, True)
_TIMEOUT = ("timeout", "timeout_s", _seconds, False)
_RETRIES = ("retries", "retries", _integer(0, 9), False)
_INVALID = ("invalid_prompt", "invalid_prompt", _text, False)
_ON_FAILURE = ("on_failure", "on_failure", _node_ref, False)

NODE_FIELDS: dict[str, tuple[type[Node], dict[str, _F]]] = {
    "play": (PlayNode, _fields(
        ("file", "file", _text, True), _NEXT, ("say_digits", "say_digits", _text, False))),
    "menu": (MenuNode, _fields(
        _PROMPT, ("options", "options", _options, True), _TIMEOUT, _RETRIES, _INVALID,
        ("timeout_prompt", "timeout_prompt", _text, False), _ON_FAILURE)),
    "input": (InputNode, _fields(
        _PROMPT, ("var", "var", _text, True), _NEXT, ("min_length", "min_length", _integer(1, 64), False),
        ("max_length", "max_length", _integer(1, 64), False), ("pattern", "pattern", _regex, False),
        _TIMEOUT, _RETRIES, _INVALID, _ON_FAILURE)),
    "branch": (BranchNode, _fields(("rules", "rules", _rules, True), ("else", "default", _node_ref, True))),
    "lookup": (LookupNode, _fields(
        ("lookup", "lookup", _choice("customer", "order"), True), ("found", "found", _node_ref, True),
        ("not_found", "not_found", _node_ref, True), ("number", "number", _text, False),
        ("greet", "greet", _text, False), ("categories", "categories", _node_map, False))),
    "queue": (QueueNode, _fields(
        ("queue", "queue", _text, True), ("priority", "priority", _integer(0, 100), False),
        ("vip_priority", "vip_priority", _integer(0, 100), False), _PROMPT_OPT)),
    "transfer": (TransferNode, _fields(("target", "target", _text, True), _PROMPT_OPT)),
    "voicemail": (VoicemailNode, _fields(("mailbox", "mailbox", _text, True), _PROMPT_OPT)),
    "callback": (CallbackNode, _fields(
        _PROMPT, _NEXT, ("done_prompt", "done_prompt", _text, False),
        ("min_length", "min_length", _integer(1, 32), False),
        ("max_length", "max_length", _integer(1, 32), False), _TIMEOUT, ("note", "note", _text, False))),
    "survey": (SurveyNode, _fields(
        _PROMPT, ("next", "next", _node_ref, False), ("scale", "scale", _integer(2, 9), False), _TIMEOUT,
        _RETRIES, _INVALID, ("thanks_prompt", "thanks_prompt", _text, False))),
    "set": (SetNode, _fields(("vars", "vars", _text_map, True), _NEXT)),
    "hangup": (HangupNode, _fields(_PROMPT_OPT)),
}


def _read_node(check: _Checker, node_id: str, raw: Any) -> Node | None:
    path: Path_ = ("nodes", node_id)
    if not NODE_ID.match(node_id):
        check.add(path, "node_id", repr(node_id))
    if not isinstance(raw, dict):
        check.add(path, "mapping")
        return None
    kind = raw.get("type")
    if kind not in NODE_FIELDS:
        check.add((*path, "type"), "node_type" if kind is not None else "required",
                  repr(kind) if kind is not None else "type")
        return None
    cls, fields = NODE_FIELDS[kind]
    values: dict[str, Any] = {}
    ok = True
    for key, value in raw.items():
        if key == "type":
            continue
        if key not in fields:
            check.add((*path, key), "unknown_field", repr(key))
            ok = False
            continue
        attribute, reader, _ = fields[key]
        read = reader(check, (*path, key), value)
        if read is None:
            ok = False
        values[attribute] = read
    for key, (_, _, required) in fields.items():
        if required and key not in raw:
            check.add(path, "required", key)
            ok = False
    if not ok:
        return None
    return cls(id=node_id, line=check.line_of(path), **values)


def parse_flow(text: str, name: str, source: str = "") -> Flow:
    """Read and check one flow document. Raises :class:`FlowValidationError` listing every problem."""
    source = source or f"{name}.yaml"
    try:
        raw, lines = _compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problem = getattr(exc, "problem", None) or str(exc)
        raise FlowValidationError(source, [FlowIssue(line, "", "yaml", str(problem))]) from None
    check = _Checker(lines)
    if not FLOW_NAME.match(name):
        check.add((), "name", repr(name))
    if not isinstance(raw, dict):
        check.add((), "mapping")
        raise FlowValidationError(source, check.issues)
    for key in raw:
        if key not in ("start", "nodes", "description", "fallback_queue", "flow"):
            check.add((key,), "unknown_field", repr(key))
    nodes_raw = raw.get("nodes")
    if not isinstance(nodes_raw, dict) or not nodes_raw:
        check.add(("nodes",), "empty")
        raise FlowValidationError(source, check.issues)
    nodes = {node_id: _read_node(check, str(node_id), body) for node_id, body in nodes_raw.items()}
    start = raw.get("start", next(iter(nodes_raw)))
    if start not in nodes_raw:
        check.add(("start",), "ref", repr(start))
    for path, target in check.references:
        if target not in nodes_raw:
            check.add(path, "ref", repr(target))
    if check.issues:
        raise FlowValidationError(source, check.issues)
    fallback = raw.get("fallback_queue")
    return Flow(
        name=name,
        start=str(start),
        nodes={node_id: node for node_id, node in nodes.items() if node is not None},
        description=str(raw.get("description", "")),
        fallback_queue=str(fallback) if fallback else None,
        source=source,
    )


def load_flow(path: Path) -> Flow:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        issue = FlowIssue(0, "", "yaml", "not UTF-8 / 不是 UTF-8 编码")
        raise FlowValidationError(path.name, [issue]) from None
    return parse_flow(text, path.stem, path.name)


# --- the flows folder ----------------------------------------------------------------------------


class FlowLibrary:
    """The flows folder. ``get`` re-reads a file whose modification time changed: flows reload live."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._cache: dict[str, tuple[int, Flow | FlowValidationError]] = {}

    def path_of(self, name: str) -> Path:
        if not FLOW_NAME.match(name):
            raise FlowNotFound(name)
        return self.folder / f"{name}.yaml"

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.yaml") if FLOW_NAME.match(p.stem))

    def get(self, name: str) -> Flow:
        """The current version of flow ``name``; raises FlowNotFound or FlowValidationError."""
        path = self.path_of(name)
        try:
            mtime = path.stat().st_mtime_ns
        except FileNotFoundError:
            self._cache.pop(name, None)
            raise FlowNotFound(name) from None
        cached = self._cache.get(name)
        if cached is None or cached[0] != mtime:
            try:
                loaded: Flow | FlowValidationError = load_flow(path)
            except FlowValidationError as exc:
                loaded = exc
            cached = (mtime, loaded)
            self._cache[name] = cached
        if isinstance(cached[1], FlowValidationError):
            raise cached[1]
        return cached[1]

    def check_all(self) -> dict[str, FlowValidationError | None]:
        """Every flow file and its problems (None when valid)."""
        report: dict[str, FlowValidationError | None] = {}
        for name in self.names():
            try:
                self.get(name)
                report[name] = None
            except FlowValidationError as exc:
                report[name] = exc
        return report

    def save(self, name: str, text: str) -> Flow:
        """Check ``text`` and, only when valid, replace the flow file atomically."""
        flow = parse_flow(text, name, f"{name}.yaml")
        path = self.path_of(name)
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".yaml.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        return flow

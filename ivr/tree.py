"""A flow as a readable tree for administrators: each node once, later references shown as links.

Pure: a :class:`~ivr.flow.Flow` in, nested dicts (for the API) or indented lines (for text) out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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


def _test_text(test: Test) -> str:
    if test.kind != "var":
        return f"{test.kind} = {test.value}"
    if test.op == "set":
        return f"{test.value} {'已设置 set' if test.operand else '未设置 unset'}"
    return f"{test.value} {test.op} {test.operand}"


def _queue_text(node: QueueNode) -> str:
    vip = f", VIP {node.vip_priority}" if node.vip_priority is not None else ""
    return f"队列 queue {node.queue} (优先级 priority {node.priority}{vip})"


_SUMMARIES: dict[type[Node], Callable[[Any], str]] = {
    PlayNode: lambda n: f"播放 play {n.file}",
    MenuNode: lambda n: f"菜单 menu {n.prompt} (超时 timeout {n.timeout_s:g}s, 重试 retries {n.retries})",
    InputNode: lambda n: f"输入 input {n.var} ({n.min_length}-{n.max_length} 位 digits)",
    BranchNode: lambda n: "分支 branch",
    LookupNode: lambda n: f"查询 lookup {n.lookup} {n.number}",
    QueueNode: _queue_text,
    TransferNode: lambda n: f"转接 transfer {n.target}",
    VoicemailNode: lambda n: f"语音信箱 voicemail {n.mailbox}",
    CallbackNode: lambda n: "预约回拨 callback",
    SurveyNode: lambda n: f"满意度 survey 1-{n.scale}",
    SetNode: lambda n: "设置变量 set " + ", ".join(f"{k}={v}" for k, v in n.vars.items()),
    HangupNode: lambda n: "挂机 hangup",
}


def summary(node: Node) -> str:
    """One line saying what the node does, in Chinese and English."""
    describe = _SUMMARIES.get(type(node))
    return describe(node) if describe else type(node).__name__


def edges(node: Node) -> list[tuple[str, str]]:
    """(label, target) for every way out of the node, in reading order."""
    out: list[tuple[str, str]] = []
    if isinstance(node, MenuNode):
        out += [(f"按 key {key}", target) for key, target in node.options.items()]
    if isinstance(node, BranchNode):
        out += [(_test_text(rule.test), rule.next) for rule in node.rules]
        out.append(("否则 else", node.default))
    if isinstance(node, LookupNode):
        out += [(f"类别 category {c}", target) for c, target in node.categories.items()]
        out += [("找到 found", node.found), ("未找到 not found", node.not_found)]
    next_node = getattr(node, "next", None)
    if isinstance(next_node, str):
        out.append(("下一步 next", next_node))
    on_failure = getattr(node, "on_failure", None)
    if isinstance(on_failure, str):
        out.append(("失败 on failure", on_failure))
    return out


def flow_tree(flow: Flow) -> dict[str, Any]:
    """The flow from its start node; nodes never reached from the start are listed apart."""
    shown: set[str] = set()

    def visit(node_id: str) -> dict[str, Any]:
        node = flow.nodes[node_id]
        shown.add(node_id)
        children: list[dict[str, Any]] = []
        for label, target in edges(node):
            if target in shown:
                children.append({"label": label, "ref": target})
            else:
                children.append({"label": label, "node": visit(target)})
        kind = type(node).__name__.removesuffix("Node").lower()
        return {
            "id": node_id, "type": kind, "summary": summary(node), "line": node.line, "children": children,
        }

    root = visit(flow.start)
    unreachable = [visit(node_id) for node_id in flow.nodes if node_id not in shown]
    return {"flow": flow.name, "description": flow.description, "root": root, "unreachable": unreachable}


def render_tree(tree: dict[str, Any]) -> list[str]:
    """Indented text lines of :func:`flow_tree`'s result."""
    lines: list[str] = []

    def emit(node: dict[str, Any], depth: int, label: str) -> None:
        prefix = "  " * depth + (f"[{label}] " if label else "")
        lines.append(f"{prefix}{node['id']}: {node['summary']}")
        for child in node["children"]:
            if "ref" in child:
                lines.append("  " * (depth + 1) + f"[{child['label']}] -> {child['ref']}")
            else:
                emit(child["node"], depth + 1, child["label"])

    emit(tree["root"], 0, "")
    for node in tree["unreachable"]:
        emit(node, 0, "未使用 unreachable")
    return lines

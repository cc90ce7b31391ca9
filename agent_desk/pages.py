"""Files behind the desk pages: the static folder, and browser libraries taken from ``node_modules``.

The npm packages are installed by ``make`` and never copied into the repository. JsSIP ships only
CommonJS modules (``require``), which a browser cannot load; ``commonjs_bundle`` wraps a package and the
packages it requires into one classic script that sets a global, the way a bundler would, at request time.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"
# Packages the pages may load from node_modules (package.json's dependencies); nothing else is served.
VENDOR_PACKAGES = frozenset({"jssip", "chart.js"})
# Bundles served as one script: URL name -> (package, global variable).
VENDOR_BUNDLES = {"jssip.js": ("jssip", "JsSIP")}

_REQUIRE = re.compile(r"""\brequire\(\s*['"]([^'"]+)['"]\s*\)""")


class BundleError(Exception):
    """A module required by the package cannot be found under node_modules."""


def safe_path(base: Path, relative: str) -> Path | None:
    """``base/relative`` if it is an existing file inside ``base`` (no ``..`` escape, no hidden files)."""
    if not relative or any(part.startswith(".") for part in Path(relative).parts):
        return None
    root = base.resolve()
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


def vendor_path(node_modules: Path, relative: str) -> Path | None:
    """A file of an allowed npm package, or None."""
    package = relative.split("/", 1)[0]
    if package not in VENDOR_PACKAGES:
        return None
    return safe_path(node_modules, relative)


def _as_file(candidate: Path) -> Path | None:
    for option in (candidate, candidate.with_name(candidate.name + ".js"),
                   candidate.with_name(candidate.name + ".json"), candidate / "index.js"):
        if option.is_file():
            return option.resolve()
    return None


def _package_entry(node_modules: Path, name: str) -> Path | None:
    folder = node_modules / name
    manifest = folder / "package.json"
    if not manifest.is_file():
        return None
    meta = json.loads(manifest.read_text(encoding="utf-8"))
    browser = meta.get("browser")
    entry = browser if isinstance(browser, str) else meta.get("main") or "index.js"
    return _as_file(folder / entry)


def resolve_require(node_modules: Path, spec: str, importer: Path) -> Path:
    """Node's resolution for the cases the vendored packages use: relative files and package names."""
    if spec.startswith(("./", "../")):
        found = _as_file(importer.parent / spec)
    else:
        parts = spec.split("/")
        name = "/".join(parts[:2]) if spec.startswith("@") else parts[0]
        rest = spec[len(name):].lstrip("/")
        found = _as_file(node_modules / name / rest) if rest else _package_entry(node_modules, name)
    if found is None:
        raise BundleError(f"cannot resolve require({spec!r}) from {importer}")
    return found


@dataclass
class _Graph:
    node_modules: Path
    ids: dict[Path, int] = field(default_factory=dict)
    sources: list[tuple[Path, str, dict[str, int]]] = field(default_factory=list)

    def add(self, path: Path) -> int:
        if path in self.ids:
            return self.ids[path]
        module_id = self.ids[path] = len(self.ids)
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            text = "module.exports = " + text + ";"
        entry: tuple[Path, str, dict[str, int]] = (path, text, {})
        self.sources.append(entry)
        for spec in dict.fromkeys(_REQUIRE.findall(text)):
            entry[2][spec] = self.add(resolve_require(self.node_modules, spec, path))
        return module_id


def commonjs_bundle(node_modules: Path, package: str, global_name: str) -> str:
    """One script defining ``window[global_name]`` from a CommonJS package and its dependencies."""
    entry = _package_entry(node_modules, package)
    if entry is None:
        raise BundleError(f"package {package!r} is not installed under {node_modules} (run make install)")
    graph = _Graph(node_modules)
    graph.add(entry)
    chunks = [f"/* {package}: bundled from node_modules at request time */", "(function () {", "var defs = ["]
    for path, text, requires in sorted(graph.sources, key=lambda s: graph.ids[s[0]]):
        rel = path.relative_to(node_modules.resolve()).as_posix()
        chunks.append(
            f"[/* {rel} */ function (module, exports, require) {{\n{text}\n}}, {json.dumps(requires)}],"
        )
    chunks.append(
        "];\nvar cache = {};\n"
        "function load(id) {\n"
        "  if (cache[id]) return cache[id].exports;\n"
        "  var module = cache[id] = { exports: {} };\n"
        "  var map = defs[id][1];\n"
        "  defs[id][0].call(module.exports, module, module.exports, function (spec) {\n"
        "    if (!(spec in map)) throw new Error('module not bundled: ' + spec);\n"
        "    return load(map[spec]);\n"
        "  });\n"
        "  return module.exports;\n"
        "}\n"
        f"window[{json.dumps(global_name)}] = load(0);\n"
        "})();\n"
    )
    return "\n".join(chunks)


@lru_cache(maxsize=4)
def _cached_bundle(node_modules: Path, package: str, global_name: str, stamp: float) -> str:
    return commonjs_bundle(node_modules, package, global_name)


def vendor_bundle(node_modules: Path, name: str) -> str | None:
    """The bundle served as ``/vendor/<name>``, rebuilt when the package is reinstalled."""
    spec = VENDOR_BUNDLES.get(name)
    if spec is None:
        return None
    manifest = node_modules / spec[0] / "package.json"
    stamp = manifest.stat().st_mtime if manifest.is_file() else 0.0
    return _cached_bundle(node_modules, spec[0], spec[1], stamp)

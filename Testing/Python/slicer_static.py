"""Static checks of the Slicer layer (the Slicer application cannot run in CI).

Each ``check_*`` function returns a list of problems (strings naming the file and what is
wrong); an empty list means the check passed. Run ``python Testing/Python/slicer_static.py``
to print every problem of the repository, ``--cmake-lists`` to print the file lists that
``MSPathobiology/CMakeLists.txt`` must hold, or ``--write-package-cmake`` to rewrite that file.

What is checked, and why:

- every ``.ui`` file parses as XML (``slicer.util.loadUI`` fails on a broken file);
- every ``qMRML*`` widget of a ``.ui`` receives the scene (``mrmlSceneChanged`` -> ``setMRMLScene``
  from the root ``qMRMLWidget``, which the module gives ``slicer.mrmlScene``); else it stays empty;
- every ``self.ui.<name>`` used in a module's Python exists as an object name in its
  ``.ui`` (``slicer.util.childWidgetVariables`` makes an attribute for each named widget,
  layout, action and button group; a misspelled name is an AttributeError at run time);
- every ``SlicerParameterName`` dynamic property in a ``.ui`` names a field of the module's
  ``@parameterNodeWrapper`` class (``connectGui`` binds widgets by that name);
- the module's ``CMakeLists.txt`` lists every ``.py`` (SCRIPTS) and every resource file
  (RESOURCES) of the module folder in ``slicerMacroBuildScriptedModule``, names only files
  that exist, and registers the module's self-test with ``slicer_add_python_unittest``;
- each module file compiles under Python 3.12 rules (Slicer 5.10+ embeds 3.12), with
  warnings as errors (3.12 makes invalid escape sequences a SyntaxWarning), and uses no
  removed or deprecated forms (``import imp``, ``returnNode=True``, ``setMasterVolumeNode``);
- every combo box bound to a ``Choice`` parameter has readable texts for all its values;
- each case-review participant registers parameter-node fields only, and MS Case Review imports
  no sibling module (it loops over the case registry);
- a module runs no step of an analysis itself: it calls the part's ``analyse`` entry point;
- the Logic class makes no GUI call (dialogs, views, layouts, Qt): those belong in the Widget;
- each module defines its Module, Widget, Logic and Test classes and a parameter node wrapper,
  and its Test class runs test_* methods and downloads nothing;
- the top-level ``CMakeLists.txt`` is a Slicer extension that adds every module folder, and
  ``MSPathobiology/CMakeLists.txt`` lists every file of the pure-Python packages, which also
  compile under Python 3.12 rules;
- ``MSPathobiology.json`` is a valid ExtensionsIndex entry, and LICENSE and the icon exist.
"""

from __future__ import annotations

import ast
import functools
import glob
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXTENSION_DIR = ROOT / "MSPathobiology"
EXPECTED_MODULES = ("MSLesions", "MSRimLesions", "MSAtrophy", "MSNetworks", "MSCaseReview", "MSSlowlyExpandingLesions")
PURE_PYTHON_PACKAGES = ("mspathobiology", "mspathobiology_mrml", "MSPathobiologyLib")
EXTENSION_NAME = "MSPathobiology"

#: Files never listed in CMake: build and editor by-products.
IGNORED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
IGNORED_SUFFIXES = {".pyc", ".pyo", ".orig", ".rej", ".swp"}
IGNORED_NAMES = {"CMakeLists.txt", ".DS_Store", ".gitignore"}

#: ExtensionsIndex description-file schema v1.0.2 (Slicer/ExtensionsIndex ``schemas/``): its properties.
INDEX_SCHEMA_PROPERTIES = {"$schema", "category", "scm_url", "scm_revision", "scm_type", "build_dependencies",
                           "dicom_support_rule", "build_subdirectory", "enabled", "tier"}
INDEX_REQUIRED = {"$schema", "category", "scm_url"}
INDEX_SCHEMA_URL = re.compile(
    r"^https://raw\.githubusercontent\.com/Slicer/Slicer/main/Schemas/"
    r"slicer-extension-catalog-entry-schema-v1\.0\.\d+\.json#?$")

#: Calls in a module's Python that give the root widget of its .ui the scene: Slicer's own, or the shared
#: ``MSPathobiologyLib.widgets.loadModuleUi`` (which calls ``uiWidget.setMRMLScene(slicer.mrmlScene)``).
SCENE_GIVERS = ("setMRMLScene(", "loadModuleUi(")
#: Calls that load a module's .ui: ``slicer.util.loadUI`` or the shared ``loadModuleUi(self, "<name>")``.
UI_LOADERS = ("loadUI(", "loadModuleUi(")

#: ``childWidgetVariables`` walks QObject children: widgets, layouts, actions and button groups.
UI_OBJECT_TAGS = ("widget", "layout", "action", "buttongroup")

#: Removed or deprecated forms in Slicer 5.12 / Python 3.12: (regex on source, problem).
FORBIDDEN_CALL_ATTRIBUTES = {
    "setMasterVolumeNode": "setMasterVolumeNode was renamed setSourceVolumeNode",
    "masterVolumeNode": "masterVolumeNode was renamed sourceVolumeNode",
}


# ----------------------------------------------------------------------------- files
def rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def module_dirs(extension_dir: Path = EXTENSION_DIR) -> list[Path]:
    """The scripted-module folders: ``MSPathobiology/MS*/`` holding a ``CMakeLists.txt`` or its module
    file ``<folder>/<folder>.py`` (the shared library ``MSPathobiologyLib`` is a package, not a module)."""
    return sorted(p for p in Path(extension_dir).glob("MS*") if p.is_dir() and p.name not in PURE_PYTHON_PACKAGES
                  and ((p / "CMakeLists.txt").exists() or (p / f"{p.name}.py").exists()))


def _ignored(path: Path, base: Path) -> bool:
    parts = path.relative_to(base).parts
    return (any(part in IGNORED_DIRS or part.startswith(".") for part in parts[:-1])
            or path.suffix in IGNORED_SUFFIXES or path.name in IGNORED_NAMES or path.name.startswith("."))


def source_files(folder: Path, exclude_subprojects: bool = True) -> list[str]:
    """Every file under ``folder`` (POSIX paths relative to it) that CMake must list.

    Sub-folders with their own ``CMakeLists.txt`` are left to that file when ``exclude_subprojects``.
    """
    folder = Path(folder)
    subprojects = [p.parent for p in folder.rglob("CMakeLists.txt") if p.parent != folder] if exclude_subprojects else []
    files = []
    for path in folder.rglob("*"):
        if not path.is_file() or _ignored(path, folder):
            continue
        if any(sub in path.parents for sub in subprojects):
            continue
        files.append(path.relative_to(folder).as_posix())
    return sorted(files)


# ----------------------------------------------------------------------------- CMake
_TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|\[(=*)\[.*?\]\1\]|[^\s()#"]+|\(|\)|#\[(=*)\[.*?\]\2\]|#[^\n]*', re.S)


def parse_cmake(text: str) -> list[tuple[str, list[str]]]:
    """Parse CMake code into ``[(command_lower, [raw arguments])]`` (comments dropped, quotes kept)."""
    commands = []
    tokens = [m.group(0) for m in _TOKEN.finditer(text)]
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.startswith("#"):
            i += 1
            continue
        if i + 1 < len(tokens) and tokens[i + 1] == "(" and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", token):
            depth, args, i = 1, [], i + 2
            while i < len(tokens) and depth:
                t = tokens[i]
                if t.startswith("#"):
                    pass
                elif t == "(":
                    depth += 1
                elif t == ")":
                    depth -= 1
                    if depth == 0:
                        break
                else:
                    args.append(t)
                i += 1
            commands.append((token.lower(), args))
        i += 1
    return commands


def _expand(arg: str, variables: dict[str, list[str]]) -> list[str]:
    """Expand ``${VAR}`` references to variables set in the file (others stay ``${VAR}``);
    an unquoted argument that is a list splits into its items."""
    quoted = arg.startswith('"') and arg.endswith('"') and len(arg) >= 2
    text = arg[1:-1] if quoted else arg
    for _ in range(10):
        new = re.sub(r"\$\{([A-Za-z0-9_]+)\}",  # unknown variables (Slicer's) stay as written
                     lambda m: ";".join(variables[m.group(1)]) if m.group(1) in variables else m.group(0), text)
        if new == text:
            break
        text = new
    if quoted:
        return [text]
    return [item for item in text.split(";") if item != ""]


def cmake_calls(path: Path, variables: dict | None = None) -> tuple[list[tuple[str, list[str]]], dict]:
    """Commands of a CMake file with arguments expanded through the ``set()`` calls before them."""
    variables = dict(variables or {})
    variables.setdefault("CMAKE_CURRENT_SOURCE_DIR", [str(Path(path).parent)])
    calls = []
    for name, raw in parse_cmake(Path(path).read_text(encoding="utf-8")):
        args = [item for arg in raw for item in _expand(arg, variables)]
        if name == "set" and args:
            variables[args[0]] = [a for a in args[1:] if a != "PARENT_SCOPE" and a != "CACHE"]
        elif name == "list" and len(args) >= 2 and args[0] == "APPEND":
            variables[args[1]] = variables.get(args[1], []) + args[2:]
        calls.append((name, args))
    return calls, variables


def keyword_lists(args: list[str], keywords: tuple[str, ...]) -> dict[str, list[str]]:
    """Split ``cmake_parse_arguments``-style arguments into ``{KEYWORD: [values]}``."""
    out: dict[str, list[str]] = {}
    current = None
    for arg in (item for raw in args for item in raw.split(";") if item != ""):  # a quoted list splits in the macro
        if arg in keywords:
            current = arg
            out.setdefault(arg, [])
        elif current is not None:
            out[current].append(arg)
    return out


_MODULE_MACRO_KEYS = ("NAME", "SCRIPTS", "RESOURCES", "WITH_GENERIC_TESTS", "WITH_SUBDIR", "VERBOSE")
_CTK_MACRO_KEYS = ("TARGET_NAME", "SCRIPTS", "RESOURCES", "SOURCE_DIR", "DESTINATION_DIR", "INSTALL_DIR",
                   "NO_INSTALL_SUBDIR", "GLOBAL_TARGET")


def _with_py(name: str) -> str:
    return name if name.endswith(".py") else f"{name}.py"  # both macros append .py when missing


# ----------------------------------------------------------------------------- module checks
def check_module_cmake(module_dir: Path) -> list[str]:
    """CMake of a scripted module lists every .py and resource of the folder, and only existing files."""
    module_dir = Path(module_dir)
    cmake = module_dir / "CMakeLists.txt"
    if not cmake.exists():
        return [f"{rel(module_dir)}: no CMakeLists.txt"]
    calls, _ = cmake_calls(cmake)
    macros = [keyword_lists(args, _MODULE_MACRO_KEYS) for name, args in calls if name == "slicermacrobuildscriptedmodule"]
    if not macros:
        return [f"{rel(cmake)}: no slicerMacroBuildScriptedModule(...) call"]
    problems = []
    scripts = {_with_py(s) for m in macros for s in m.get("SCRIPTS", [])}
    resources = {r for m in macros for r in m.get("RESOURCES", [])}
    names = [n for m in macros for n in m.get("NAME", [])]
    if module_dir.name not in names:
        problems.append(f"{rel(cmake)}: slicerMacroBuildScriptedModule NAME is {names}, expected {module_dir.name!r}")
    for listed in sorted(scripts | resources):
        if not (module_dir / listed).is_file():
            problems.append(f"{rel(cmake)}: lists {listed!r}, which does not exist")
    for path in source_files(module_dir):
        if path.endswith(".py"):
            if path not in scripts:
                problems.append(f"{rel(cmake)}: {path} is not listed in SCRIPTS (not installed with the module)")
        elif path not in resources:
            problems.append(f"{rel(cmake)}: {path} is not listed in RESOURCES (not installed with the module)")
    subdirs = {a for name, args in calls if name == "add_subdirectory" for a in args[:1]}
    for sub in sorted(p.parent for p in module_dir.rglob("CMakeLists.txt") if p.parent != module_dir):
        if sub.relative_to(module_dir).parts[0] not in subdirs:
            problems.append(f"{rel(cmake)}: folder {sub.relative_to(module_dir).as_posix()} has a CMakeLists.txt "
                            "but is not add_subdirectory()'d")
    unittests = [args for name, args in calls if name == "slicer_add_python_unittest"]
    if not any(_with_py(a) == f"{module_dir.name}.py" for args in unittests for a in args):
        problems.append(f"{rel(cmake)}: no slicer_add_python_unittest(SCRIPT {module_dir.name}.py)")
    return problems


def ui_files(module_dir: Path) -> list[Path]:
    return sorted(p for p in Path(module_dir).rglob("*.ui") if not _ignored(p, Path(module_dir)))


def parse_ui(path: Path):
    """``(object names, {parameter name: widget name})`` of a Qt Designer file; raises ``ET.ParseError``."""
    tree = ET.parse(path)
    names = set()
    bindings = {}
    for element in tree.iter():
        if element.tag in UI_OBJECT_TAGS and element.get("name"):
            names.add(element.get("name"))
        if element.tag == "widget":
            for prop in element.findall("property"):
                if prop.get("name") == "SlicerParameterName":
                    value = prop.find("string")
                    bindings[(value.text or "").strip() if value is not None else ""] = element.get("name")
    return names, bindings


def check_ui_parse(module_dir: Path) -> list[str]:
    """Every .ui file of the module parses as XML with a <ui> root."""
    problems = []
    files = ui_files(module_dir)
    if not files:
        problems.append(f"{rel(module_dir)}: no .ui file")
    for path in files:
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as exc:
            problems.append(f"{rel(path)}: does not parse as XML ({exc})")
            continue
        if root.tag != "ui":
            problems.append(f"{rel(path)}: root element is <{root.tag}>, not <ui>")
    return problems


def check_ui_scene(module_dir: Path) -> list[str]:
    """Every qMRML widget of a .ui receives the scene: the root is a ``qMRMLWidget`` that the module's
    Python gives the scene (``setMRMLScene(slicer.mrmlScene)``), and each other ``qMRML*`` widget is the
    receiver of ``mrmlSceneChanged(vtkMRMLScene*)`` -> ``setMRMLScene(vtkMRMLScene*)`` from a widget that
    has the scene itself. A selector without it stays empty in Slicer."""
    module_dir = Path(module_dir)
    python = "".join(path.read_text(encoding="utf-8") for path in python_files(module_dir))
    problems = []
    for path in ui_files(module_dir):
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError:
            continue  # reported by check_ui_parse
        top = root.find("widget")
        if top is None:
            continue
        classes = {w.get("name"): w.get("class", "") for w in root.iter("widget")}
        edges = {}
        for connection in root.iter("connection"):
            signal = (connection.findtext("signal") or "").replace(" ", "")
            slot = (connection.findtext("slot") or "").replace(" ", "")
            if signal == "mrmlSceneChanged(vtkMRMLScene*)" and slot == "setMRMLScene(vtkMRMLScene*)":
                edges.setdefault((connection.findtext("sender") or "").strip(), set()).add(
                    (connection.findtext("receiver") or "").strip())
        has_scene, todo = set(), []
        if classes.get(top.get("name"), "").startswith("qMRML") and any(call in python for call in SCENE_GIVERS):
            has_scene.add(top.get("name"))
            todo.append(top.get("name"))
        elif any(c.startswith("qMRML") for c in classes.values()):
            problems.append(f"{rel(path)}: the root widget {top.get('name')!r} is a {classes.get(top.get('name'))} "
                            "that the module never gives the scene (qMRMLWidget + uiWidget.setMRMLScene(slicer.mrmlScene))")
        while todo:
            for receiver in edges.get(todo.pop(), ()):
                if receiver not in has_scene:
                    has_scene.add(receiver)
                    todo.append(receiver)
        for name, cls in sorted(classes.items()):
            if cls.startswith("qMRML") and name != top.get("name") and name not in has_scene:
                problems.append(f"{rel(path)}: {cls} {name!r} never receives the scene (add a connection "
                                f"{top.get('name')}.mrmlSceneChanged(vtkMRMLScene*) -> {name}.setMRMLScene(vtkMRMLScene*))")
    return problems


def _ui_names(module_dir: Path) -> tuple[set[str], dict[str, str]]:
    names, bindings = set(), {}
    for path in ui_files(module_dir):
        try:
            n, b = parse_ui(path)
        except ET.ParseError:
            continue
        names |= n
        bindings.update(b)
    return names, bindings


def python_files(module_dir: Path) -> list[Path]:
    return sorted(Path(module_dir) / p for p in source_files(module_dir) if p.endswith(".py"))


def _parse_python(path: Path):
    import warnings

    with warnings.catch_warnings():  # syntax warnings are check_python312's business
        warnings.simplefilter("ignore")
        try:
            return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except SyntaxError:
            return None


def _is_self_ui(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "ui"
            and isinstance(node.value, ast.Name) and node.value.id == "self")


def _literal_strings(node: ast.AST) -> list[str] | None:
    """The strings of a tuple/list/set of string constants, else None."""
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and all(
            isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
        return [e.value for e in node.elts]
    return None


def ui_attribute_uses(tree: ast.AST) -> list[tuple[str, int]]:
    """``(name, line)`` of every widget name read from ``self.ui`` in a module.

    Covers ``self.ui.<name>``, ``getattr(self.ui, "<name>")``, ``getattr(self.ui, name)`` inside
    ``for name in ("a", "b")``, and ``getattr(self.ui, f"rating{i}Button")``, which is returned
    as a pattern ``re:rating.+Button`` (at least one widget name must match it).
    """
    uses = []
    loop_values: dict[int, list[str]] = {}  # id(Name node in a loop body) -> the loop's literal values
    for node in ast.walk(tree):
        if isinstance(node, ast.For) and isinstance(node.target, ast.Name):
            values = _literal_strings(node.iter)
            if values is not None:
                for inner in (n for stmt in node.body for n in ast.walk(stmt)):
                    if isinstance(inner, ast.Name) and inner.id == node.target.id:
                        loop_values[id(inner)] = values
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load) and _is_self_ui(node.value):
            uses.append((node.attr, node.lineno))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
              and len(node.args) >= 2 and _is_self_ui(node.args[0])):
            key = node.args[1]
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                uses.append((key.value, node.lineno))
            elif isinstance(key, ast.Name) and id(key) in loop_values:
                uses.extend((value, node.lineno) for value in loop_values[id(key)])
            elif isinstance(key, ast.JoinedStr):
                pattern = "".join(re.escape(v.value) if isinstance(v, ast.Constant) else ".+" for v in key.values)
                uses.append((f"re:{pattern}", node.lineno))
    return uses


def library_ui_uses(library_dir: Path | None = None) -> dict[str, list[tuple[str, int, Path]]]:
    """``self.ui`` uses of each class of the shared library (``MSPathobiologyLib``), by class name:
    a Widget that inherits such a mixin needs those widgets in its own .ui."""
    library_dir = Path(library_dir or EXTENSION_DIR / "MSPathobiologyLib")
    uses = {}
    for path in sorted(library_dir.glob("*.py")):
        tree = _parse_python(path)
        for node in ast.walk(tree) if tree is not None else ():
            if isinstance(node, ast.ClassDef):
                uses[node.name] = [(name, line, path) for name, line in ui_attribute_uses(node)]
    return uses


def _base_names(node: ast.ClassDef) -> list[str]:
    return [b.id if isinstance(b, ast.Name) else b.attr for b in node.bases if isinstance(b, (ast.Name, ast.Attribute))]


def check_ui_names(module_dir: Path) -> list[str]:
    """Every ``self.ui.<name>`` in the module's Python, and in the shared-library mixins its classes
    inherit, exists as a named object in its .ui files."""
    names, _ = _ui_names(module_dir)
    library = Path(module_dir).parent / "MSPathobiologyLib"
    inherited = library_ui_uses(library if library.is_dir() else None)
    problems = []

    def check(name, where, what):
        if name.startswith("re:"):
            if not any(re.fullmatch(name[3:], n) for n in names):
                problems.append(f"{where}: {what}getattr(self.ui, f-string) matches no widget in the module's .ui "
                                f"(pattern {name[3:]!r})")
        elif name not in names:
            close = sorted(n for n in names if n.lower() == name.lower() or _edit_distance(n, name) <= 2)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"{where}: {what}self.ui.{name} is not a widget in the module's .ui{hint}")

    for path in python_files(module_dir):
        tree = _parse_python(path)
        if tree is None:
            continue
        for name, line in ui_attribute_uses(tree):
            check(name, f"{rel(path)}:{line}", "")
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for base in _base_names(node):
                    for name, line, source in inherited.get(base, ()):
                        check(name, f"{rel(path)}:{node.lineno}",
                              f"{node.name} inherits {base} ({rel(source)}:{line}), whose ")
    return problems


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _decorator_names(node: ast.ClassDef) -> set[str]:
    names = set()
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Attribute):
            names.add(target.attr)
        elif isinstance(target, ast.Name):
            names.add(target.id)
    return names


def _fields(node: ast.ClassDef) -> dict[str, ast.expr]:
    return {stmt.target.id: stmt.annotation for stmt in node.body
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)}


def parameter_node_classes(tree: ast.AST) -> tuple[dict[str, dict], dict[str, dict]]:
    """``({wrapper class: fields}, {parameter pack class: fields})`` defined in a module."""
    wrappers, packs = {}, {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            decorators = _decorator_names(node)
            if "parameterNodeWrapper" in decorators:
                wrappers[node.name] = _fields(node)
            if "parameterPack" in decorators:
                packs[node.name] = _fields(node)
    return wrappers, packs


def _annotation_class(annotation: ast.expr) -> str | None:
    """The class named by a field annotation (``X`` or ``Annotated[X, ...]``)."""
    head = annotation.value if isinstance(annotation, ast.Subscript) else None
    if head is not None and getattr(head, "id", getattr(head, "attr", "")) == "Annotated":
        inner = annotation.slice
        annotation = inner.elts[0] if isinstance(inner, ast.Tuple) else inner
    if isinstance(annotation, ast.Name):
        return annotation.id
    if isinstance(annotation, ast.Attribute):
        return annotation.attr
    return None


def check_parameter_bindings(module_dir: Path) -> list[str]:
    """Every SlicerParameterName in the .ui names a field of the module's @parameterNodeWrapper class."""
    module_dir = Path(module_dir)
    _, bindings = _ui_names(module_dir)
    wrappers, packs = {}, {}
    for path in python_files(module_dir):
        tree = _parse_python(path)
        if tree is not None:
            w, p = parameter_node_classes(tree)
            wrappers.update(w)
            packs.update(p)
    problems = []
    if bindings and not wrappers:
        problems.append(f"{rel(module_dir)}: .ui binds SlicerParameterName but no @parameterNodeWrapper class exists")
        return problems
    fields = {name: ann for f in wrappers.values() for name, ann in f.items()}
    for parameter, widget in sorted(bindings.items()):
        parts = parameter.split(".")
        scope, annotation = fields, None
        for depth, part in enumerate(parts):
            if part not in scope:
                where = "the parameter node wrapper" if depth == 0 else f"parameter pack of {'.'.join(parts[:depth])!r}"
                problems.append(f"{rel(module_dir)}: widget {widget!r} binds SlicerParameterName {parameter!r}, "
                                f"which is not a field of {where} (fields: {sorted(scope)})")
                break
            annotation = scope[part]
            scope = packs.get(_annotation_class(annotation) or "", {})
    return problems


def check_module_classes(module_dir: Path) -> list[str]:
    """The module file defines Module, Widget, Logic and Test classes (right bases) and a parameter node wrapper."""
    module_dir = Path(module_dir)
    name = module_dir.name
    path = module_dir / f"{name}.py"
    if not path.exists():
        return [f"{rel(module_dir)}: no module file {name}.py"]
    tree = _parse_python(path)
    if tree is None:
        return [f"{rel(path)}: does not parse"]
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    expected = {name: "ScriptedLoadableModule", f"{name}Widget": "ScriptedLoadableModuleWidget",
                f"{name}Logic": "ScriptedLoadableModuleLogic", f"{name}Test": "ScriptedLoadableModuleTest"}
    problems = []
    for cls, base in expected.items():
        if cls not in classes:
            problems.append(f"{rel(path)}: class {cls} is missing")
            continue
        bases = {getattr(b, "id", getattr(b, "attr", None)) for b in classes[cls].bases}
        if base not in bases:
            problems.append(f"{rel(path)}: class {cls} does not derive from {base} (bases: {sorted(filter(None, bases))})")
    wrappers, _ = parameter_node_classes(tree)
    if not wrappers:
        problems.append(f"{rel(path)}: no @parameterNodeWrapper class")
    text = path.read_text(encoding="utf-8")
    if not any(call in text for call in UI_LOADERS):
        problems.append(f"{rel(path)}: the widget does not load its .ui (slicer.util.loadUI)")
    if f"UI/{name}.ui" not in text and f'loadModuleUi(self, "{name}")' not in text:
        problems.append(f"{rel(path)}: does not load Resources/UI/{name}.ui")
    if not (module_dir / "Resources" / "UI" / f"{name}.ui").exists():
        problems.append(f"{rel(module_dir)}: Resources/UI/{name}.ui is missing")
    return problems


# ----------------------------------------------------------------------------- Python 3.12
@functools.lru_cache(maxsize=1)
def python312() -> str | None:
    """A Python 3.12 interpreter (``MSPATHOBIOLOGY_PYTHON312``, ``python3.12`` on PATH, or pyenv's), else None."""
    candidates = [os.environ.get("MSPATHOBIOLOGY_PYTHON312"), shutil.which("python3.12")]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")), reverse=True)
    candidates += sorted(glob.glob("/root/.pyenv/versions/3.12*/bin/python3.12"), reverse=True)
    for candidate in filter(None, candidates):
        try:
            out = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
                                 capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0 and out.stdout.strip() == "True":
            return candidate
    return None


def compile_files(paths) -> dict[str, str]:
    """``{path: error}`` for files that do not compile with warnings turned into errors."""
    import warnings

    problems = {}
    for path in paths:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                compile(Path(path).read_text(encoding="utf-8"), str(path), "exec", dont_inherit=True)
            except (SyntaxError, ValueError, Warning) as exc:
                line = getattr(exc, "lineno", None)
                message = f"{type(exc).__name__}: {getattr(exc, 'msg', None) or exc}"
                problems[str(path)] = message + (f" (line {line})" if line else "")
    return problems


def compile_problems(paths: list[Path]) -> tuple[dict[str, str], str]:
    """``({path: error}, interpreter)``: compile each file under Python 3.12 (this file run with
    ``--compile`` in a 3.12 interpreter, ``-W error``) or, without one, in this interpreter."""
    paths = [str(p) for p in paths]
    interpreter = python312()
    if paths and interpreter is not None:
        out = subprocess.run([interpreter, "-W", "error", str(Path(__file__).resolve()), "--compile", *paths],
                             capture_output=True, text=True, timeout=120)
        if out.returncode == 0:
            return json.loads(out.stdout), interpreter
    return compile_files(paths), sys.executable


def check_python312(module_dir: Path) -> list[str]:
    """Every .py of the module compiles under Python 3.12 rules (warnings are errors)."""
    errors, interpreter = compile_problems(python_files(module_dir))
    return [f"{rel(Path(path))}: does not compile under {Path(interpreter).name}: {message}"
            for path, message in sorted(errors.items())]


def check_forbidden_forms(module_dir: Path) -> list[str]:
    """No ``import imp`` (gone in 3.12), no ``returnNode=True``, no ``setMasterVolumeNode``."""
    problems = []
    for path in python_files(module_dir):
        tree = _parse_python(path)
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import) and any(a.name == "imp" or a.name.startswith("imp.") for a in node.names):
                problems.append(f"{rel(path)}:{node.lineno}: 'import imp' (module removed in Python 3.12; use importlib)")
            elif isinstance(node, ast.ImportFrom) and node.module == "imp":
                problems.append(f"{rel(path)}:{node.lineno}: 'from imp import' (module removed in Python 3.12)")
            elif isinstance(node, ast.keyword) and node.arg == "returnNode":
                problems.append(f"{rel(path)}:{getattr(node, 'lineno', '?')}: returnNode= (removed from slicer.util loaders; "
                                "they return the node)")
            elif isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_CALL_ATTRIBUTES:
                problems.append(f"{rel(path)}:{node.lineno}: {FORBIDDEN_CALL_ATTRIBUTES[node.attr]}")
    return problems


#: Names whose use in a self-test means it downloads data (the tests must build data with the logic layer).
DOWNLOAD_NAMES = {"SampleData", "downloadSample", "downloadFromURL", "downloadFile", "urlretrieve", "urlopen",
                  "requests", "urllib"}


def check_self_test(module_dir: Path) -> list[str]:
    """The module's Test class runs tests (runTest calls test_* methods) and downloads nothing."""
    module_dir = Path(module_dir)
    path = module_dir / f"{module_dir.name}.py"
    tree = _parse_python(path) if path.exists() else None
    test = next((n for n in (tree.body if tree else []) if isinstance(n, ast.ClassDef)
                 and n.name == f"{module_dir.name}Test"), None)
    if test is None:
        return []  # reported by check_module_classes
    problems = []
    methods = {n.name: n for n in test.body if isinstance(n, ast.FunctionDef)}
    tests = [name for name in methods if name.startswith("test")]
    if not tests:
        problems.append(f"{rel(path)}: {test.name} has no test_* method")
    run = methods.get("runTest")
    calls = list(ast.walk(run)) if run is not None else []
    called = {n.func.attr for n in calls if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
    if run is None or not called & set(tests):
        problems.append(f"{rel(path)}: {test.name}.runTest does not call its test_* methods")
    for node in ast.walk(test):
        name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
        if name in DOWNLOAD_NAMES:
            problems.append(f"{rel(path)}:{node.lineno}: {test.name} uses {name}: self-tests must build their data "
                            "with the logic layer, not download it")
    return problems


#: Names whose use in a Logic class is a GUI call (dialogs, views, layouts, module switching, Qt): Slicer's
#: convention keeps them in the Widget so that the Logic runs headless (self-tests, batch, other modules).
GUI_NAMES = {"qt", "ctk", "views", "layoutManager", "processEvents", "errorDisplay", "warningDisplay", "infoDisplay",
             "confirmOkCancelDisplay", "confirmYesNoDisplay", "tryWithErrorDisplay", "messageBox", "selectModule",
             "setSliceViewerLayers", "widgetRepresentation", "mainWindow", "delayDisplay"}


def check_logic_without_gui(module_dir: Path) -> list[str]:
    """The module's Logic class makes no GUI call (see :data:`GUI_NAMES`); GUI calls belong in the Widget."""
    module_dir = Path(module_dir)
    path = module_dir / f"{module_dir.name}.py"
    tree = _parse_python(path) if path.exists() else None
    logic = next((n for n in (tree.body if tree else []) if isinstance(n, ast.ClassDef)
                  and n.name == f"{module_dir.name}Logic"), None)
    if logic is None:
        return []
    problems = []
    for node in ast.walk(logic):
        name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name.split(".")[-1] in GUI_NAMES or (alias.asname or "") in GUI_NAMES:
                    problems.append(f"{rel(path)}:{node.lineno}: {logic.name} imports {alias.name} (GUI; keep it in the Widget)")
        elif name in GUI_NAMES:
            problems.append(f"{rel(path)}:{node.lineno}: {logic.name} uses {name} (a GUI call; keep it in the Widget)")
    return problems


def _choices(annotation: ast.expr) -> list | None:
    """The literal values of ``Annotated[T, Choice([...])]`` (None when the field is not a Choice)."""
    if not (isinstance(annotation, ast.Subscript) and isinstance(annotation.slice, ast.Tuple)):
        return None
    for item in annotation.slice.elts[1:]:
        if isinstance(item, ast.Call) and getattr(item.func, "id", getattr(item.func, "attr", "")) == "Choice" \
                and item.args and isinstance(item.args[0], (ast.List, ast.Tuple)):
            try:
                return [ast.literal_eval(e) for e in item.args[0].elts]
            except ValueError:
                return None
    return None


def check_choice_labels(module_dir: Path) -> list[str]:
    """Every combo box bound to a ``Choice`` parameter shows readable texts: the Widget's ``choiceLabels``
    maps the combo box to a text for ``str(value)`` of every choice (the raw tokens, such as
    ``invnodevol`` or ``-1``, are what the parameter-node connector shows otherwise)."""
    module_dir = Path(module_dir)
    path = module_dir / f"{module_dir.name}.py"
    tree = _parse_python(path) if path.exists() else None
    if tree is None:
        return []
    fields = {name: ann for f in parameter_node_classes(tree)[0].values() for name, ann in f.items()}
    widget = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == f"{module_dir.name}Widget"), None)
    labels = {}
    for stmt in (widget.body if widget else []):
        if isinstance(stmt, ast.Assign) and any(getattr(t, "id", "") == "choiceLabels" for t in stmt.targets) \
                and isinstance(stmt.value, ast.Dict):
            for key, value in zip(stmt.value.keys, stmt.value.values):
                if isinstance(key, ast.Constant) and isinstance(value, ast.Dict):
                    labels[key.value] = {k.value for k in value.keys if isinstance(k, ast.Constant)}
    classes = {}
    for ui in ui_files(module_dir):
        try:
            classes.update({w.get("name"): w.get("class") for w in ET.parse(ui).iter("widget")})
        except ET.ParseError:
            continue
    problems = []
    for parameter, widget_name in sorted(_ui_names(module_dir)[1].items()):
        values = _choices(fields[parameter]) if parameter in fields else None
        if values is None or classes.get(widget_name) != "QComboBox":
            continue
        missing = [str(v) for v in values if str(v) not in labels.get(widget_name, set())]
        if missing:
            problems.append(f"{rel(path)}: combo box {widget_name!r} ({parameter}) shows raw values {missing}: give them "
                            f"readable texts in {module_dir.name}Widget.choiceLabels")
    return problems


#: Modules that take part in case review (each registers a ``MSPathobiologyLib.cases.CaseParticipant``).
CASE_PARTICIPANTS = ("MSLesions", "MSRimLesions", "MSAtrophy", "MSNetworks")


def _registrations(tree: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and getattr(n.func, "attr", getattr(n.func, "id", "")) == "CaseParticipant"]


def check_case_registration(module_dir: Path) -> list[str]:
    """A case-review participant registers what it loads and saves for a case with field names of its
    parameter node (``inputs`` keys, each ``CaseFile``'s field); the case reviewer imports no sibling
    module (it loops over the registry)."""
    module_dir = Path(module_dir)
    path = module_dir / f"{module_dir.name}.py"
    tree = _parse_python(path) if path.exists() else None
    if tree is None:
        return []
    problems = []
    calls = _registrations(tree)
    if module_dir.name not in CASE_PARTICIPANTS:
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                for name in filter(None, names):
                    if name.split(".")[0] in CASE_PARTICIPANTS:
                        problems.append(f"{rel(path)}:{node.lineno}: imports the module {name}: use the case "
                                        "registry (MSPathobiologyLib.cases) instead")
        return problems
    if len(calls) != 1:
        return [f"{rel(path)}: registers {len(calls)} CaseParticipant(s) for case review, expected 1"]
    fields = {name for f in parameter_node_classes(tree)[0].values() for name in f}
    call = calls[0]
    named = {k.arg: k.value for k in call.keywords}
    used = []
    if isinstance(named.get("inputs"), ast.Dict):
        used += [(k.value, k.lineno) for k in named["inputs"].keys if isinstance(k, ast.Constant)]
    for item in getattr(named.get("outputs"), "elts", []):
        if isinstance(item, ast.Call) and item.args and isinstance(item.args[0], ast.Constant):
            used.append((item.args[0].value, item.lineno))
    for name, line in used:
        if name not in fields:
            problems.append(f"{rel(path)}:{line}: case registration names {name!r}, which is not a parameter-node "
                            f"field (fields: {sorted(fields)})")
    return problems


#: Steps inside an analysis of the logic layer. A module calls the part's one entry point
#: (``mspathobiology.<part>.analyse``, ``atrophy.analyse_pbvc``) instead, so that Slicer, the command
#: line and the cohort runner run the same orchestration.
ANALYSIS_STEPS = {"connectome", "disconnection", "network_disruption", "nodal_metrics", "global_metrics",
                  "measure_streamlines", "assign_endpoints", "score_rims", "score_rim_images", "central_vein_sign",
                  "central_vein_sign_images", "white_matter_mask", "vesselness", "enhancing_lesions",
                  "analyse_tissues", "compute_pbvc", "extract_brain", "segment_flair", "label_lesions",
                  "label_and_measure", "lesion_rows", "classify_locations", "dissemination_in_space",
                  "relabel_after_edit",
                  # SEL (mspathobiology.sel): registration, Jacobians and the per-lesion heuristics
                  "align_rigid", "match_intensity", "register_followup", "jacobian_determinant", "log_jacobian",
                  "global_log_jacobian", "concentric_fraction", "outer_band", "surrounding_ring", "linear_slope"}


#: The analysis parts of the logic layer, as modules import them (``from mspathobiology import networks``).
PARTS = {"lesions", "rims", "atrophy", "networks", "sel"}


def check_one_orchestration(module_dir: Path) -> list[str]:
    """The module runs no analysis step itself (see :data:`ANALYSIS_STEPS`): it calls the part's ``analyse``."""
    module_dir = Path(module_dir)
    problems = []
    for path in python_files(module_dir):
        tree = _parse_python(path)
        for node in ast.walk(tree) if tree else ():
            names = []
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mspathobiology"):
                names = [(a.name, node.lineno) for a in node.names]
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in PARTS:
                names = [(node.attr, node.lineno)]  # e.g. networks.disconnection(...)
            for name, line in names:
                if name in ANALYSIS_STEPS:
                    problems.append(f"{rel(path)}:{line}: {name} is a step of an analysis; call the part's analyse() "
                                    "so that Slicer and the command line run the same orchestration")
    return problems


MODULE_CHECKS = (check_ui_parse, check_ui_scene, check_ui_names, check_parameter_bindings, check_module_cmake,
                 check_python312, check_forbidden_forms, check_module_classes, check_self_test,
                 check_logic_without_gui, check_choice_labels, check_case_registration, check_one_orchestration)


def check_module(module_dir: Path) -> list[str]:
    """All checks of one scripted-module folder."""
    return [problem for check in MODULE_CHECKS for problem in check(module_dir)]


# ----------------------------------------------------------------------------- extension checks
def check_top_level_cmake(root: Path = ROOT, expected_modules=EXPECTED_MODULES) -> list[str]:
    """The top-level CMakeLists.txt is a Slicer extension that adds every module folder."""
    root = Path(root)
    cmake = root / "CMakeLists.txt"
    if not cmake.exists():
        return [f"{rel(cmake)}: missing"]
    calls, variables = cmake_calls(cmake)
    names = [name for name, _ in calls]
    problems = []
    projects = [args for name, args in calls if name == "project"]
    if not projects or projects[0][:1] != [EXTENSION_NAME]:
        problems.append(f"{rel(cmake)}: project() is {projects[:1]}, expected project({EXTENSION_NAME})")
    for var in ("EXTENSION_HOMEPAGE", "EXTENSION_CATEGORY", "EXTENSION_CONTRIBUTORS", "EXTENSION_DESCRIPTION",
                "EXTENSION_ICONURL", "EXTENSION_SCREENSHOTURLS", "EXTENSION_DEPENDS"):
        if not "".join(variables.get(var, [])).strip():
            problems.append(f"{rel(cmake)}: {var} is not set")
    if variables.get("EXTENSION_CATEGORY") != ["Neuroimaging"]:
        problems.append(f"{rel(cmake)}: EXTENSION_CATEGORY is {variables.get('EXTENSION_CATEGORY')}, expected Neuroimaging")
    if variables.get("EXTENSION_DEPENDS") != ["NA"]:
        problems.append(f"{rel(cmake)}: EXTENSION_DEPENDS is {variables.get('EXTENSION_DEPENDS')}, expected NA")
    for var in ("EXTENSION_ICONURL", "EXTENSION_SCREENSHOTURLS", "EXTENSION_HOMEPAGE"):
        for url in " ".join(variables.get(var, [])).split():
            if not url.startswith("https://"):
                problems.append(f"{rel(cmake)}: {var} entry {url!r} is not an https URL")
    text = cmake.read_text(encoding="utf-8")
    # The ExtensionsIndex checker reads these two with regular expressions that need this exact form.
    for var in ("EXTENSION_ICONURL", "EXTENSION_SCREENSHOTURLS"):
        if not re.search(rf'set\({var}\s*"[^"]+"\)', text):
            problems.append(f'{rel(cmake)}: write set({var} "...") on one line, as the ExtensionsIndex checker expects')
    finds = [args for name, args in calls if name == "find_package"]
    if ["Slicer", "REQUIRED"] not in [a[:2] for a in finds]:
        problems.append(f"{rel(cmake)}: no find_package(Slicer REQUIRED)")
    raw_includes = [raw for name, raw in parse_cmake(text) if name == "include"]
    for needed in ("${Slicer_USE_FILE}", "${Slicer_EXTENSION_GENERATE_CONFIG}", "${Slicer_EXTENSION_CPACK}"):
        if [needed] not in raw_includes:
            problems.append(f"{rel(cmake)}: no include({needed})")
    if {"find_package", "add_subdirectory"} <= set(names) and names.index("add_subdirectory") < names.index("find_package"):
        problems.append(f"{rel(cmake)}: add_subdirectory() before find_package(Slicer)")
    subdirs = [args[0] for name, args in calls if name == "add_subdirectory" and args]
    for module in expected_modules:
        if f"MSPathobiology/{module}" not in subdirs:
            problems.append(f"{rel(cmake)}: does not add_subdirectory(MSPathobiology/{module})")
    for folder in module_dirs(root / "MSPathobiology"):
        if f"MSPathobiology/{folder.name}" not in subdirs:
            problems.append(f"{rel(cmake)}: module folder MSPathobiology/{folder.name} is not add_subdirectory()'d")
    if "MSPathobiology" not in subdirs:
        problems.append(f"{rel(cmake)}: does not add_subdirectory(MSPathobiology) (the pure-Python packages)")
    for sub in subdirs:
        if not (root / sub / "CMakeLists.txt").exists():
            problems.append(f"{rel(cmake)}: add_subdirectory({sub}) but {sub}/CMakeLists.txt does not exist")
    return problems


def package_cmake_lists(extension_dir: Path = EXTENSION_DIR) -> dict[str, tuple[list[str], list[str]]]:
    """``{package: (scripts, resources)}`` the packages hold (paths relative to ``MSPathobiology/``)."""
    out = {}
    for package in PURE_PYTHON_PACKAGES:
        files = [f"{package}/{p}" for p in source_files(Path(extension_dir) / package, exclude_subprojects=False)]
        out[package] = ([f for f in files if f.endswith(".py")], [f for f in files if not f.endswith(".py")])
    return out


def check_package_cmake(extension_dir: Path = EXTENSION_DIR) -> list[str]:
    """``MSPathobiology/CMakeLists.txt`` lists every file of the pure-Python packages, and only existing files."""
    extension_dir = Path(extension_dir)
    cmake = extension_dir / "CMakeLists.txt"
    if not cmake.exists():
        return [f"{rel(cmake)}: missing"]
    calls, _ = cmake_calls(cmake)
    macros = [keyword_lists(args, _CTK_MACRO_KEYS) for name, args in calls if name == "ctkmacrocompilepythonscript"]
    if not macros:
        return [f"{rel(cmake)}: no ctkMacroCompilePythonScript(...) call"]
    problems = []
    scripts = {_with_py(s) for m in macros for s in m.get("SCRIPTS", [])}
    resources = {r for m in macros for r in m.get("RESOURCES", [])}
    for m in macros:
        if not any("Slicer_QTSCRIPTEDMODULES_LIB_DIR" in d for d in m.get("DESTINATION_DIR", [])):
            problems.append(f"{rel(cmake)}: {m.get('TARGET_NAME')} DESTINATION_DIR is not under "
                            "${CMAKE_BINARY_DIR}/${Slicer_QTSCRIPTEDMODULES_LIB_DIR}")
        if not any("Slicer_INSTALL_QTSCRIPTEDMODULES_LIB_DIR" in d for d in m.get("INSTALL_DIR", [])):
            problems.append(f"{rel(cmake)}: {m.get('TARGET_NAME')} INSTALL_DIR is not "
                            "${Slicer_INSTALL_QTSCRIPTEDMODULES_LIB_DIR}")
    for listed in sorted(scripts | resources):
        if not (extension_dir / listed).is_file():
            problems.append(f"{rel(cmake)}: lists {listed!r}, which does not exist")
    for package, (py, other) in package_cmake_lists(extension_dir).items():
        for path in py:
            if path not in scripts:
                problems.append(f"{rel(cmake)}: {path} is not listed in SCRIPTS")
        for path in other:
            if path not in resources:
                problems.append(f"{rel(cmake)}: {path} is not listed in RESOURCES")
    return problems


def check_packages_python312(extension_dir: Path = EXTENSION_DIR) -> list[str]:
    """Every .py of the pure-Python packages compiles under Python 3.12 rules too (Slicer runs them)."""
    paths = [Path(extension_dir) / p for py, _ in package_cmake_lists(extension_dir).values() for p in py]
    errors, interpreter = compile_problems(paths)
    return [f"{rel(Path(path))}: does not compile under {Path(interpreter).name}: {message}"
            for path, message in sorted(errors.items())]


def check_extension_json(root: Path = ROOT) -> list[str]:
    """``MSPathobiology.json`` is a valid ExtensionsIndex entry (schema 1.0.x) for a Python-only extension."""
    path = Path(root) / f"{EXTENSION_NAME}.json"
    if not path.exists():
        return [f"{rel(path)}: missing"]
    raw = path.read_bytes()
    problems = []
    if b"\r" in raw:
        problems.append(f"{rel(path)}: has CR line endings (the ExtensionsIndex requires LF)")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        return [f"{rel(path)}: not valid JSON ({exc})"]
    if not isinstance(data, dict):
        return [f"{rel(path)}: top level is not an object"]
    for key in sorted(INDEX_REQUIRED - set(data)):
        problems.append(f"{rel(path)}: required key {key!r} missing")
    for key in sorted(set(data) - INDEX_SCHEMA_PROPERTIES):
        problems.append(f"{rel(path)}: key {key!r} is not in the schema (additionalProperties is false)")
    if not INDEX_SCHEMA_URL.match(str(data.get("$schema", ""))):
        problems.append(f"{rel(path)}: $schema {data.get('$schema')!r} is not a "
                        "slicer-extension-catalog-entry-schema-v1.0.x URL")
    if data.get("category") != "Neuroimaging":
        problems.append(f"{rel(path)}: category is {data.get('category')!r}, expected 'Neuroimaging'")
    url = str(data.get("scm_url", ""))
    if not url.startswith("https://"):
        problems.append(f"{rel(path)}: scm_url {url!r} is not an https URL")
    repo = url.rstrip("/").split("/")[-1].removesuffix(".git")
    if not repo.startswith("Slicer"):
        problems.append(f"{rel(path)}: repository name {repo!r} should start with 'Slicer'")
    if data.get("build_dependencies") != []:
        problems.append(f"{rel(path)}: build_dependencies is {data.get('build_dependencies')!r}, expected []")
    if not isinstance(data.get("scm_revision"), str) or not data.get("scm_revision"):
        problems.append(f"{rel(path)}: scm_revision must be a branch, tag or hash")
    tier = data.get("tier")
    if not isinstance(tier, int) or isinstance(tier, bool) or not 1 <= tier <= 5:
        problems.append(f"{rel(path)}: tier must be an integer 1..5, got {tier!r}")
    if EXTENSION_NAME.lower().startswith("slicer"):
        problems.append(f"{rel(path)}: the extension name must not start with 'Slicer'")
    return problems


def png_size(path: Path) -> tuple[int, int] | None:
    """Width and height of a PNG file, or None if it is not a PNG."""
    data = Path(path).read_bytes()[:24]
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def check_extension_files(root: Path = ROOT) -> list[str]:
    """LICENSE, README and a 128x128 PNG icon are present."""
    root = Path(root)
    problems = []
    for name in ("LICENSE", "README.md"):
        if not (root / name).is_file():
            problems.append(f"{name}: missing")
    icon = root / "Resources" / "Icons" / f"{EXTENSION_NAME}.png"
    size = png_size(icon) if icon.exists() else None
    if size != (128, 128):
        problems.append(f"{rel(icon)}: expected a 128x128 PNG, got {size}")
    return problems


def check_repository(root: Path = ROOT) -> list[str]:
    """Every check, over the whole repository."""
    root = Path(root)
    problems = (check_top_level_cmake(root) + check_package_cmake(root / "MSPathobiology")
                + check_packages_python312(root / "MSPathobiology")
                + check_extension_json(root) + check_extension_files(root))
    found = {p.name for p in module_dirs(root / "MSPathobiology")}
    problems += [f"MSPathobiology/{m}: module folder missing" for m in EXPECTED_MODULES if m not in found]
    for folder in module_dirs(root / "MSPathobiology"):
        problems += check_module(folder)
    return problems


def package_cmake_text(extension_dir: Path = EXTENSION_DIR) -> str:
    """The text of ``MSPathobiology/CMakeLists.txt`` for the packages' current files."""
    def block(var, items):
        return f"set({var}\n" + "".join(f"  {item}\n" for item in items) + "  )\n"

    lists = package_cmake_lists(extension_dir)
    text = PACKAGE_CMAKE_HEADER
    for package, (py, other) in lists.items():
        up = package.upper()
        text += block(f"{up}_PYTHON_SCRIPTS", py) + "\n" + block(f"{up}_PYTHON_RESOURCES", other) + "\n"
    for package in lists:
        up = package.upper()
        text += (f"ctkMacroCompilePythonScript(\n  TARGET_NAME {package}\n"
                 f'  SCRIPTS "${{{up}_PYTHON_SCRIPTS}}"\n  RESOURCES "${{{up}_PYTHON_RESOURCES}}"\n'
                 "  DESTINATION_DIR ${CMAKE_BINARY_DIR}/${Slicer_QTSCRIPTEDMODULES_LIB_DIR}\n"
                 "  INSTALL_DIR ${Slicer_INSTALL_QTSCRIPTEDMODULES_LIB_DIR}\n  NO_INSTALL_SUBDIR\n  )\n\n")
    return text.rstrip() + "\n"


PACKAGE_CMAKE_HEADER = """#-----------------------------------------------------------------------------
# The pure-Python packages the scripted modules import:
#   mspathobiology       the logic layer (also the pip package and the command line)
#   mspathobiology_mrml  the MRML bridge
#   MSPathobiologyLib    the Slicer-side library the five modules share (widgets, case registry, ...)
# They are copied, byte-compiled and installed into Slicer's scripted-modules library folder
# (the folder slicerMacroBuildScriptedModule installs modules into, which is on sys.path), as
# Slicer does for its own Python libraries (e.g. Modules/Loadable/Markups/MarkupsLib).
# Every file is listed; Testing/Python/test_slicer_static.py fails when one is missing.
# Regenerate this file after adding or removing files:
#   python Testing/Python/slicer_static.py --write-package-cmake

#-----------------------------------------------------------------------------
"""


def cmake_listing_text(extension_dir: Path = EXTENSION_DIR) -> str:
    """The SCRIPTS/RESOURCES lists MSPathobiology/CMakeLists.txt needs (for a failing test's message)."""
    lines = []
    for package, (py, other) in package_cmake_lists(extension_dir).items():
        lines.append(f"# {package}: SCRIPTS")
        lines += [f"  {p}" for p in py]
        lines.append(f"# {package}: RESOURCES")
        lines += [f"  {p}" for p in other]
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--compile"]:
        print(json.dumps(compile_files(sys.argv[2:])))
        sys.exit(0)
    if "--cmake-lists" in sys.argv:
        print(cmake_listing_text())
        sys.exit(0)
    if "--write-package-cmake" in sys.argv:
        (EXTENSION_DIR / "CMakeLists.txt").write_text(package_cmake_text(), encoding="utf-8")
        print(f"wrote {rel(EXTENSION_DIR / 'CMakeLists.txt')}")
        sys.exit(0)
    found = check_repository()
    for problem in found:
        print(problem)
    print(f"{len(found)} problem(s)")
    sys.exit(1 if found else 0)

"""The code the exercises tell a learner to type runs in their notebook as written.

Read statically: every span in backticks in a notebook's exercise list, and in each
exercise's task and hint, that parses as Python. The names it calls must be defined
by the notebook's cells up to its exercises (or by the span itself), the attributes
it reads from imported objects must exist, and the keywords it passes must be ones
the function takes. A hint saying ``translate(sample, num_beams=5)`` where the
notebook's ``translate`` is the tutorial's one-argument function fails here.
"""

import ast
import builtins
import importlib
import inspect
import re

import pytest

from s2st_helpers import exercises as exercises_module

from .test_notebooks_teach import NOTEBOOKS, cells

FILE_NAME = re.compile(r"[\w./-]+\.(wav|mp3|flac|tsv|csv|json|txt|md|py|ipynb|yml|yaml|zip)$")
UNKNOWN = object()  # a name the notebook binds to a value only running it would give


def notebook(number: str) -> list[dict]:
    (path,) = NOTEBOOKS.glob(f"{number}_*.ipynb")
    return cells(path.stem)


def parse(source: str) -> ast.Module | None:
    source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


def imported(module: str, name: str | None = None):
    target = importlib.import_module(module)
    if name is None:
        return target
    try:
        return getattr(target, name)
    except AttributeError:
        return importlib.import_module(f"{module}.{name}")


def bind(tree: ast.AST, names: dict) -> None:
    """Add the names ``tree`` binds: imports resolved, functions as their ``def``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = imported(alias.name)
                else:
                    top = alias.name.split(".")[0]
                    names[top] = imported(top)
                    imported(alias.name)  # so that the dotted path resolves below
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                names[alias.asname or alias.name] = imported(node.module, alias.name)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names[node.name] = node
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.setdefault(node.id, UNKNOWN)
        elif isinstance(node, ast.arg):
            names.setdefault(node.arg, UNKNOWN)


def chain(node: ast.AST) -> tuple[str, list[str]] | None:
    """``a.b.c`` as ("a", ["b", "c"]); None where the root is not a name."""
    attrs = []
    while isinstance(node, ast.Attribute):
        attrs.insert(0, node.attr)
        node = node.value
    return (node.id, attrs) if isinstance(node, ast.Name) else None


def resolve(names: dict, root: str, attrs: list[str]):
    """The object ``root.attrs`` names, UNKNOWN where running the notebook would tell;
    raises AttributeError where an attribute does not exist."""
    target = names.get(root, getattr(builtins, root, UNKNOWN))
    for attr in attrs:
        if target is UNKNOWN or isinstance(target, ast.FunctionDef):
            return UNKNOWN
        try:
            target = getattr(target, attr)
        except AttributeError:
            if not inspect.ismodule(target):
                raise
            target = importlib.import_module(f"{target.__name__}.{attr}")
    return target


def refused_keywords(target, keywords: list[str]) -> list[str]:
    if isinstance(target, ast.FunctionDef):
        args = target.args
        if args.kwarg:
            return []
        taken = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    else:
        try:
            parameters = inspect.signature(target).parameters.values()
        except (TypeError, ValueError):  # no signature to read
            return []
        if any(p.kind is p.VAR_KEYWORD for p in parameters):
            return []
        taken = {p.name for p in parameters if p.kind is not p.POSITIONAL_ONLY}
    return [k for k in keywords if k not in taken]


def problems(span: str, names: dict) -> list[str]:
    """What fails in ``span`` given the bound ``names``, to which it adds its own (a
    text's later spans may use what its earlier ones import)."""
    tree = None if FILE_NAME.match(span) else parse(span)
    if tree is None:
        return []  # a file's name, prose, or an answer's shape such as {1: greedy text, 5: beam-5 text}
    bind(tree, names)
    found = []
    called = {id(part) for node in ast.walk(tree) if isinstance(node, ast.Call)  # reported as calls
              for part in ast.walk(node.func) if isinstance(part, ast.Attribute)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and (named := chain(node)):
            root = named[0]
            if root not in names and not hasattr(builtins, root):
                if id(node) not in called and not isinstance(node.ctx, ast.Store):
                    found.append(f"`{span}`: reads {root}, which the notebook has not defined by its exercises")
                continue
            try:
                resolve(names, *named)
            except (AttributeError, ImportError):
                found.append(f"`{span}`: {'.'.join([named[0], *named[1]])} does not exist")
        if isinstance(node, ast.Call) and (named := chain(node.func)):
            root, attrs = named
            if root not in names and not hasattr(builtins, root):
                found.append(f"`{span}`: calls {root}, which the notebook has not defined by its exercises")
                continue
            try:
                target = resolve(names, root, attrs)
            except (AttributeError, ImportError):
                continue  # said above
            if target is not UNKNOWN:
                refused = refused_keywords(target, [k.arg for k in node.keywords if k.arg])
                if refused:
                    found.append(f"`{span}`: {'.'.join([root, *attrs])} takes no {', '.join(refused)}")
    return found


def before_exercises(cells: list[dict], number: str) -> dict:
    """The names bound by the code cells up to the one that loads the exercises."""
    names: dict = {}
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        tree = parse(source)
        if tree is not None:
            bind(tree, names)
        if f'exercises("{number}")' in source:
            return names
    raise AssertionError(f"notebook {number} never loads its exercises")


NUMBERS = sorted({e.notebook for e in exercises_module._ALL})


@pytest.mark.parametrize("number", NUMBERS)
def test_exercise_code_runs_as_written(number):
    cells = notebook(number)
    defined = before_exercises(cells, number)
    texts = ["".join(c["source"]) for c in cells
             if c["cell_type"] == "markdown" and re.search(r"^## Exercises", "".join(c["source"]), re.M)]
    assert texts, f"notebook {number} has no '## Exercises' cell"
    texts += [text for e in exercises_module._ALL if e.notebook == number for text in (e.task, e.hint_text)]
    found = []
    for text in texts:
        names = dict(defined)
        found += [p for span in re.findall(r"`([^`]+)`", text) for p in problems(span, names)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("span, defined, expected", [
    ("exercises.FOX", {"exercises": exercises_module.exercises}, "exercises.FOX does not exist"),
    ("translate(sample, num_beams=5)", "def translate(audio):\n    pass", "translate takes no num_beams"),
    ("s2st.pick_device()", "", "calls s2st, which the notebook has not defined"),
    ("result.timings", "", "reads result, which the notebook has not defined"),
    ("result.timings", "result = None", None),
    ("manifest.tsv", "", None),
    ("a.b.c()", "", "calls a, which the notebook has not defined"),
    ("s2st.translate(sample, num_beams=5)", "import s2st_helpers as s2st", None),
    ("{r: len(f(r)) for r in (1, 2)}", "def f(x):\n    pass", None),
    ("from s2st_helpers.exercises import FOX; FOX.upper()", "", None),
])
def test_the_reader_catches_what_a_learner_would_hit(span, defined, expected):
    names: dict = {}
    if isinstance(defined, dict):
        names = defined
    elif defined:
        bind(ast.parse(defined), names)
    found = problems(span, names)
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and expected in found[0]

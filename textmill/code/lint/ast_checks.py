"""pylint checks that ruff has no rule for but that one walk of Python's AST finds, counted in
pylint's categories: together with ruff's messages they make the ruff engine's counts.

Each mirrors a default pylint message that is frequent in real code: files linted alone (as
SwallowCode lints them) turn every top-level relative import into an error, pytest-style code
shadows module names in function arguments, and pylint asks every public class for a docstring.
"""

from __future__ import annotations

import ast

# pylint's default `bad-names` (disallowed-name, C0104)
DISALLOWED_NAMES = frozenset({"foo", "bar", "baz", "toto", "tutu", "tata"})

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _module_names(module: ast.Module) -> set[str]:
    """Names bound at module level (functions, classes, imports, assignments)."""
    names: set[str] = set()
    for node in module.body:
        if isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def _arguments(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    args = function.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    return {a.arg for a in every if a is not None}


def _is_docstring(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


_DOCSTRING_OWNERS = (ast.Module, ast.ClassDef, *_FUNCTIONS)


def analyse_module(module: ast.Module) -> tuple[int, dict[str, int]]:
    """(statements as pylint counts them, {pylint category: messages} of the checks mirrored
    here), in one walk of the tree.

    Statements: astroid nodes with `is_statement`, i.e. every ast.stmt and except handler, less
    docstrings (astroid keeps them off the tree). Checks: relative-beyond-top-level (E0402: a
    file linted alone has no package around it), unused-import for `import x as x` that ruff
    takes for a re-export (W0611), redefined-outer-name (W0621), missing-class-docstring (C0115,
    pylint's no-docstring-rgx exempts `_private`) and disallowed-name (C0104)."""
    top_level = _module_names(module)
    statements = 0
    convention = 0
    loaded: set[str] = set()
    aliases: list[str] = []
    function_locals: list[set[str]] = []
    # (node, index of the innermost function's local set, or -1 in module / class / lambda)
    stack: list[tuple[ast.AST, int]] = [(module, -1)]
    while stack:
        node, scope = stack.pop()
        child_scope = scope
        if type(node) is ast.Name:  # the most frequent node: decided first
            if type(node.ctx) is ast.Store:
                if scope >= 0:
                    function_locals[scope].add(node.id)
            else:
                loaded.add(node.id)
        elif isinstance(node, (ast.stmt, ast.ExceptHandler)):
            statements += 1
            if isinstance(node, _FUNCTIONS):
                function_locals.append(_arguments(node))
                child_scope = len(function_locals) - 1
                convention += node.name in DISALLOWED_NAMES
            elif isinstance(node, ast.ClassDef):
                convention += not node.name.startswith("_") and ast.get_docstring(node) is None
                child_scope = -1
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                aliases.extend(a.asname for a in node.names if a.asname == a.name.split(".")[-1])
        elif type(node) is ast.Lambda:
            child_scope = -1
        if isinstance(node, _DOCSTRING_OWNERS) and node.body and _is_docstring(node.body[0]):
            statements -= 1
        for field in node._fields:  # ast.iter_child_nodes, without its two generators
            value = getattr(node, field, None)
            if isinstance(value, list):
                stack.extend((item, child_scope) for item in value if isinstance(item, ast.AST))
            elif isinstance(value, ast.AST):
                stack.append((value, child_scope))
    error = sum(isinstance(n, ast.ImportFrom) and n.level > 0 for n in module.body)
    warning = sum(alias not in loaded for alias in aliases)
    for names in function_locals:
        warning += len(names & top_level)
        convention += len(names & DISALLOWED_NAMES)
    counts = {"error": error, "warning": warning, "refactor": 0, "convention": convention}
    return statements, counts

"""Does a file parse? Python through CPython's own compiler (SwallowCode's syntax filter),
other languages through tree-sitter grammars (`tree-sitter-language-pack`, compiled grammars
shipped in the wheel: nothing downloads), measured as the share of the parse tree's nodes that
are ERROR or MISSING."""

from __future__ import annotations

import re
import warnings
from functools import cache
from typing import Any

# linguist name -> tree-sitter-language-pack grammar (the ones that load from the pack)
GRAMMARS: dict[str, str] = {
    "Assembly": "asm",
    "C": "c",
    "C#": "csharp",
    "C++": "cpp",
    "CMake": "cmake",
    "CSS": "css",
    "Clojure": "clojure",
    "Cuda": "cuda",
    "Dart": "dart",
    "Dockerfile": "dockerfile",
    "Elixir": "elixir",
    "Emacs Lisp": "elisp",
    "Erlang": "erlang",
    "F#": "fsharp",
    "Fortran": "fortran",
    "GLSL": "glsl",
    "Go": "go",
    "GraphQL": "graphql",
    "Groovy": "groovy",
    "HTML": "html",
    "Haskell": "haskell",
    "INI": "ini",
    "JSON": "json",
    "Java": "java",
    "JavaScript": "javascript",
    "Julia": "julia",
    "Kotlin": "kotlin",
    "Lua": "lua",
    "Makefile": "make",
    "Nix": "nix",
    "OCaml": "ocaml",
    "Objective-C": "objc",
    "PHP": "php",
    "Perl": "perl",
    "PowerShell": "powershell",
    "Protocol Buffer": "proto",
    "R": "r",
    "Racket": "racket",
    "Ruby": "ruby",
    "Rust": "rust",
    "SCSS": "scss",
    "SQL": "sql",
    "Scala": "scala",
    "Shell": "bash",
    "Solidity": "solidity",
    "Svelte": "svelte",
    "Swift": "swift",
    "TOML": "toml",
    "TSX": "tsx",
    "TypeScript": "typescript",
    "Vue": "vue",
    "XML": "xml",
    "YAML": "yaml",
    "Zig": "zig",
}
PYTHON = "Python"


def python_syntax_error(text: str, filename: str = "<file>") -> str | None:
    """Why CPython cannot compile the file (`SyntaxError: ... (line N)`), or None when it can.
    Compiles only (nothing runs); warnings such as invalid escapes are not errors."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(text, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:  # IndentationError and TabError too
        return f"{type(exc).__name__}: {exc.msg} (line {exc.lineno})"
    except (ValueError, RecursionError, MemoryError, OverflowError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


# a C++ header's tell-tales (linguist's own .h heuristics look for much the same)
_CPP_HINT = re.compile(rb"\bnamespace\b|\btemplate\s*<|\bclass\s+\w+\s*[:{]|\bstd::|\bpublic:")


def parser_for(lang: str) -> Any | None:
    """A tree-sitter parser for a linguist language, or None when the pack has no grammar."""
    name = GRAMMARS.get(lang)
    return _parser(name) if name else None


@cache
def _parser(name: str) -> Any | None:
    from tree_sitter_language_pack import get_parser

    try:
        return get_parser(name)  # type: ignore[arg-type]
    except LookupError:
        return None


def error_share(text: str | bytes, lang: str, path: str | None = None) -> float | None:
    """Share of the parse tree's nodes that are ERROR or MISSING (tokens the parser had to
    invent); None when no grammar covers `lang`. A `.h` file that does not parse as C is
    tried as C++ and Objective-C (linguist files every `.h` under C), and the best counts."""
    grammar = GRAMMARS.get(lang)
    if grammar is None:
        return None
    data = text.encode("utf-8") if isinstance(text, str) else text
    if lang != "C" or not (path or "").endswith(".h"):
        return _error_share(data, grammar)
    # a header: the grammar its content hints at first, the others only if that one fails
    order = ("cpp", "c", "objc") if _CPP_HINT.search(data[:65536]) else ("c", "cpp", "objc")
    best = 1.0
    for name in order:
        share = _error_share(data, name)
        if share is not None:
            best = min(best, share)
        if best == 0.0:
            break
    return best


def _error_share(data: bytes, grammar: str) -> float | None:
    parser = _parser(grammar)
    if parser is None:
        return None
    if not data:
        return 0.0
    root = parser.parse(data).root_node
    if not root.has_error:
        return 0.0
    return _error_nodes(root) / max(1, root.descendant_count)


def _error_nodes(root: Any) -> int:
    """ERROR and MISSING nodes, found by walking only the subtrees that hold errors (a
    tree-sitter query walks the whole tree, and is slower on real files)."""
    count = 0
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            count += 1
        if node.has_error:
            stack.extend(node.children)
    return count

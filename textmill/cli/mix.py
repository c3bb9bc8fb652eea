"""`textmill mix SPEC.yaml -o MIX` (a training mixture), `textmill mix example [NAME]` (the shipped
specs), and `textmill mix fit` / `textmill mix search` (mixture laws, textmill/cli/mix_law.py).

`mix SPEC.yaml` is the sub-command `build` chosen implicitly: any first word that is not a
sub-command's name is a spec."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from textmill.cli.args import whole

FORMAT_CHOICES = ("text", "megatron", "memmap", "parquet", "nanotron", "blend")  # spec.FORMATS

SUBCOMMANDS = ("build", "example", "fit", "search")


class _AnyWord:
    """Every word is a valid choice (a spec file when no sub-command has its name)."""

    def __init__(self, names: dict):
        self.names = names

    def __contains__(self, word: object) -> bool:
        return True

    def __iter__(self):
        return iter(self.names)


class _ImplicitBuild(argparse._SubParsersAction):
    """A first word that names no sub-command is the spec of `build`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.choices = _AnyWord(self._name_parser_map)  # argparse checks choices first

    def __call__(self, parser, namespace, values, option_string=None):
        if values and values[0] not in self._name_parser_map:
            values = ["build", *values]
        super().__call__(parser, namespace, values, option_string)


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "mix",
        help="build a training mixture from textmill outputs or TOK folders (mix SPEC.yaml -o "
        "MIX), or fit / search mixture laws (mix fit, mix search)",
        description="textmill mix SPEC.yaml -o MIX: the mixture a YAML spec asks for (weights, "
        "a token budget, temperature or UniMax sampling over a grouping column, rehydrate "
        "copies), as shuffled text, a tokenized mixture or a Megatron --data-path blend line, "
        "with requested and realized shares in MIX/manifest.json. See `textmill mix example`.",
    )
    parser.add_argument("-o", "--out", dest="out_before", help=argparse.SUPPRESS)
    parser.set_defaults(handler=lambda args: parser.print_help() or 2)
    subcommands = parser.add_subparsers(
        dest="mix_command", metavar="{SPEC.yaml,example,fit,search}", action=_ImplicitBuild
    )
    build = subcommands.add_parser("build", help="(implicit) make the mixture SPEC.yaml asks for")
    build.add_argument("spec", metavar="SPEC.yaml", help="the mix spec (YAML)")
    build.add_argument("-o", "--out", help="the output folder MIX (new, empty, or a mix's)")
    build.add_argument("--format", choices=FORMAT_CHOICES, help="over the spec's output.format")
    build.add_argument(
        "--megatron-blend",
        action="store_true",
        help="write Megatron's --data-path blend line for the TOK sources (format blend)",
    )
    build.add_argument("--seed", type=whole(0), help="over the spec's seed")
    build.add_argument("--budget", help="total tokens, e.g. 2000000 or 800B (over the spec's)")
    build.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan (requested vs realized), write nothing",
    )
    build.add_argument("--overwrite", action="store_true", help="replace a mixture in MIX")
    build.set_defaults(handler=cmd_build)

    example = subcommands.add_parser("example", help="print a shipped example spec (or list them)")
    example.add_argument("name", nargs="?", help="e.g. lucie, ct-llm, ct-llm-budget")
    example.set_defaults(handler=cmd_example)
    _add_law_parsers(subcommands)


def _add_law_parsers(subcommands: argparse._SubParsersAction) -> None:
    """`mix fit` and `mix search` are the mixture-law helper's (textmill/cli/mix_law.py); without
    that module they say so."""
    reason = "this textmill has no textmill/cli/mix_law.py"
    if importlib.util.find_spec("textmill.cli.mix_law") is not None:
        try:
            law = importlib.import_module("textmill.cli.mix_law")
            law.add_fit_parser(subcommands)
            law.add_search_parser(subcommands)
            return
        except ImportError as exc:
            reason = f"textmill.cli.mix_law does not import ({exc})"
    for name in ("fit", "search"):
        stub = subcommands.add_parser(name, help=f"mixture laws ({name}): not available")
        stub.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        stub.set_defaults(handler=lambda args, name=name: _unavailable(name, reason))


def _unavailable(name: str, reason: str) -> int:
    print(f"textmill: error: `textmill mix {name}` is not available: {reason}", file=sys.stderr)
    return 2


def cmd_build(args: argparse.Namespace) -> int:
    from pathlib import Path

    from textmill.mix.build import as_spec, mix, plan_mix, print_report
    from textmill.mix.spec import MixError, build_mix_spec, parse_token_count

    out = args.out or args.out_before
    if not out and not args.dry_run:
        print("textmill: error: give the output folder: mix SPEC.yaml -o MIX", file=sys.stderr)
        return 2
    spec = as_spec(args.spec)
    fmt = "blend" if args.megatron_blend else args.format
    if args.megatron_blend and args.format not in (None, "blend"):
        raise MixError(f"--megatron-blend writes a blend line, not format {args.format}")
    if fmt is not None or args.seed is not None or args.budget is not None:
        data = spec.model_dump(mode="json")
        if fmt is not None:
            data["output"]["format"] = fmt
        if args.seed is not None:
            data["seed"] = args.seed
        if args.budget is not None:
            try:
                data["budget"] = parse_token_count(args.budget)
            except ValueError as exc:
                raise MixError(f"--budget: {exc}") from None
        spec = build_mix_spec(data, args.spec)
    command = ["textmill", "mix", *(sys.argv[2:] if sys.argv[1:2] == ["mix"] else [])]
    if args.dry_run:
        from textmill.mix.build import _manifest

        plan = plan_mix(spec)
        print_report(_manifest(plan, {"format": spec.output.format, "blend": ""}, command),
                     Path(out or "-"))  # fmt: skip
        print("dry run: nothing written")
        return 0
    manifest = mix(spec, Path(out), overwrite=args.overwrite, command=command)
    print_report(manifest, Path(out))
    return 0


def cmd_example(args: argparse.Namespace) -> int:
    from textmill.mix.spec import MixError, shipped_specs

    specs = shipped_specs()
    if args.name is None:
        print("\n".join(specs))
        return 0
    if args.name not in specs:
        raise MixError(f"no example spec {args.name!r} (have: {', '.join(specs)})")
    print(specs[args.name], end="")
    return 0

"""Command: params (every job kind's parameters, from their dataclasses; docs/JOBS.md is its output)."""

from __future__ import annotations

from betag_engine.vocabulary import JOB_KINDS


def register(sub) -> None:
    p = sub.add_parser("params", help="Job kinds and their parameters (defaults, meaning) as Markdown.")
    p.add_argument("kind", nargs="*", help="Only these job kinds (default: all): " + ", ".join(JOB_KINDS))
    p.set_defaults(func=_params)


def _params(args, settings) -> int:
    from betag_engine.errors import BetagError
    from betag_engine.jobs.params_doc import params_markdown

    unknown = [k for k in args.kind if k not in JOB_KINDS]
    if unknown:
        raise BetagError(f"job kind must be one of {', '.join(JOB_KINDS)}, got {', '.join(unknown)}")
    print(params_markdown(args.kind or None), end="")
    return 0

"""The ``mspathobiology`` command line: ``mspathobiology SUBCOMMAND --help``.

Every failure the user can fix ends as ONE line on stderr and a non-zero exit status:
2 for bad arguments or input (:class:`~mspathobiology.errors.InputError`, argparse errors),
1 for a file system error (disk full, permission denied) and 130 for Ctrl-C.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from . import __version__, commands
from .errors import InputError


class UsageError(Exception):
    """A command-line syntax error (unknown option, bad value), reported in one line."""

    def __init__(self, prog: str, message: str):
        super().__init__(message)
        self.prog = prog
        self.message = message


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are exceptions (one line from :func:`main`), not exits with usage text."""

    def error(self, message):
        raise UsageError(self.prog, message)


def command_modules():
    """Every module in :mod:`mspathobiology.commands`, sorted by subcommand name."""
    modules = [importlib.import_module(f"{commands.__name__}.{info.name}")
               for info in pkgutil.iter_modules(commands.__path__) if not info.name.startswith("_")]
    return sorted(modules, key=lambda m: m.NAME)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="mspathobiology",
        description="MS lesions, paramagnetic rim lesions, atrophy and network disconnection, "
                    "from one case or a whole cohort.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in command_modules():
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def one_line(text) -> str:
    """``text`` on one line: line breaks and other control characters shown escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        print(f"{exc.prog}: error: {one_line(exc.message)} (see {exc.prog} --help)", file=sys.stderr)
        return 2
    prefix = f"mspathobiology {args.command}: error:"
    try:
        return int(args._run(args) or 0)
    except InputError as exc:
        print(f"{prefix} {one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # disk full, permission denied, ... outside the package's own writers
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"{prefix} {one_line(where + (exc.strerror or str(exc)))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prefix} interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

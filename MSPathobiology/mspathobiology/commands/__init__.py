"""Subcommands of the ``mspathobiology`` command line, one module each.

A command module defines ``NAME`` (the subcommand), ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. :mod:`mspathobiology.cli`
finds them here; adding a module adds a subcommand.
"""

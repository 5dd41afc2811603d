"""Exceptions raised for bad input or a failed write. Every message names the file or argument and the problem.

:class:`InputError` is the base: the command line prints any of them as one line and exits
non-zero, the cohort runner records them as the failure of one analysis.
"""


class InputError(ValueError):
    """An input image, table, file or argument is unusable.

    ``source`` is the file path or the argument name the problem was found in.
    """

    def __init__(self, source, problem):
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")


class GeometryMismatchError(InputError):
    """Two images that must share a voxel grid do not."""


class ArgumentError(InputError):
    """A command-line or function argument is out of range, not a number, or names an unusable path."""


class OutputError(InputError):
    """A file could not be written completely (disk full, read-only folder, failed verification).

    When it is raised the previous version of the file, if any, is unchanged.
    """


class LockedError(InputError):
    """Another process holds the lock of a file that is written by one process at a time."""


class ReadOnlyError(InputError):
    """A store opened read-only (its folder is not writable) was asked to change something."""

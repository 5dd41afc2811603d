"""Exceptions raised for bad input. Every message names the input and what is wrong."""


class InputError(ValueError):
    """An input image, table or file is unusable.

    ``source`` is the file path or the argument name the problem was found in.
    """

    def __init__(self, source, problem):
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")


class GeometryMismatchError(InputError):
    """Two images that must share a voxel grid do not."""

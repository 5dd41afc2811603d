"""Run logic-layer work in a child process without freezing Slicer.

Two kinds of child command: the project's command line (:func:`command_line`,
``python -m mspathobiology SUBCOMMAND ...``) and one logic-layer function called through
:mod:`MSPathobiologyLib.runner` (:func:`function_command_line`), which passes the function a
progress callback and prints ``progress NN%`` lines. The modules use the latter because the
CLI commands print no progress; both write the same files (the CLI is a thin wrapper of the
same ``run_case`` functions).

The child is Slicer's own ``PythonSlicer`` (same packages as the application), started with
``slicer.util.launchConsoleProcess(..., blocking=False)``: a reader thread queues its output
lines and a ``QTimer`` hands them to the main thread, so the interface keeps running. The
pattern follows Slicer's MONAIAuto3DSeg/TotalSegmentator extensions. Cancelling kills the child.

Progress is read from the child's output lines (see :func:`parse_progress`); when a command
prints no progress the bar stays busy (indeterminate) and shows the last output line.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time

_PERCENT = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d+)?)\s*%")
_FRACTION = re.compile(r"\[\s*(\d+)\s*/\s*(\d+)\s*\]|\b(?:step|case|stage)\s+(\d+)\s*(?:/|of)\s*(\d+)\b", re.I)


def parse_progress(line: str) -> float | None:
    """Progress fraction in [0, 1] announced by an output line, or None.

    Understands ``42%``, ``[3/10]`` and ``step 3/10`` / ``case 3 of 10``.
    """
    match = _FRACTION.search(line)
    if match:
        done, total = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
        total = int(total)
        if total > 0:
            return min(max(int(done) / total, 0.0), 1.0)
    match = _PERCENT.search(line)
    if match:
        value = float(match.group(1))
        if value <= 100.0:
            return value / 100.0
    return None


def python_executable() -> str:
    """Slicer's ``PythonSlicer`` (on PATH inside Slicer), else the running interpreter."""
    found = shutil.which("PythonSlicer")
    if found:
        return found
    name = os.path.basename(sys.executable).lower()
    if name.startswith("python"):
        return sys.executable
    raise RuntimeError("PythonSlicer executable not found: cannot run the mspathobiology command in the background")


def logic_python_path() -> list[str]:
    """Folders that must be on PYTHONPATH for the child to import ``mspathobiology`` and this library."""
    import mspathobiology

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return list(dict.fromkeys([os.path.dirname(os.path.dirname(os.path.abspath(mspathobiology.__file__))), here]))


def command_line(subcommand: str, arguments: list[str]) -> list[str]:
    """``[python, -m, mspathobiology, subcommand, *arguments]`` (the project's command line)."""
    return [python_executable(), "-m", "mspathobiology", subcommand, *[str(a) for a in arguments]]


def function_command_line(function: str, *args, **kwargs) -> list[str]:
    """``[python, -m, MSPathobiologyLib.runner, "pkg.module:function", JSON]``: call one logic-layer
    function in the child with a progress callback (see :mod:`MSPathobiologyLib.runner`)."""
    spec = json.dumps({"args": [str(a) if isinstance(a, os.PathLike) else a for a in args],
                       "kwargs": {k: (str(v) if isinstance(v, os.PathLike) else v) for k, v in kwargs.items()}})
    return [python_executable(), "-m", "MSPathobiologyLib.runner", function, spec]


class BackgroundCommand:
    """One child process (:func:`command_line` or :func:`function_command_line`).

    ``onLine(str)`` gets each output line, ``onProgress(float|None)`` each progress update
    (None = unknown), ``onFinished(returnCode, lines)`` the end (returnCode -9/-15 after cancel).
    """

    def __init__(self, commandLine: list[str], onLine=None, onProgress=None, onFinished=None):
        self.commandLine = [str(a) for a in commandLine]
        self.onLine = onLine
        self.onProgress = onProgress
        self.onFinished = onFinished
        self.lines: list[str] = []
        self.process = None
        self.returnCode = None
        self.startTime = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.returnCode is None

    def start(self):
        import slicer

        path = logic_python_path() + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        self.startTime = time.time()
        self.process = slicer.util.launchConsoleProcess(
            self.commandLine,
            useStartupEnvironment=False,
            updateEnvironment={"PYTHONPATH": os.pathsep.join(dict.fromkeys(path)), "PYTHONUNBUFFERED": "1"},
            blocking=False,
            logCallback=self._line,
            completedCallback=self._finished,
        )
        if self.onProgress:
            self.onProgress(None)
        return self

    def cancel(self):
        if self.running:
            self.process.kill()

    def _line(self, line: str):
        self.lines.append(line)
        if self.onLine:
            self.onLine(line)
        fraction = parse_progress(line)
        if fraction is not None and self.onProgress:
            self.onProgress(fraction)

    def _finished(self, returnCode: int):
        self.returnCode = returnCode
        if self.onFinished:
            self.onFinished(returnCode, self.lines)

    def errorText(self) -> str:
        """The last output lines, for an error message."""
        return "\n".join(self.lines[-15:])


class BackgroundSequence:
    """Several ``mspathobiology`` commands run one after the other in child processes.

    ``steps``: list of (title, command line). Progress is reported over the whole sequence
    (step n of N plus the step's own fraction, or None while a step gives none).
    ``onFinished(returnCode, lines)`` runs once: after the last step, or after the first failure.
    """

    def __init__(self, steps, onLine=None, onProgress=None, onFinished=None):
        self.steps = list(steps)
        self.onLine = onLine
        self.onProgress = onProgress
        self.onFinished = onFinished
        self.index = -1
        self.current = None
        self.cancelled = False

    @property
    def running(self) -> bool:
        return self.current is not None and self.current.running

    def start(self):
        self._next()
        return self

    def cancel(self):
        self.cancelled = True
        if self.current is not None:
            self.current.cancel()

    def _progress(self, fraction):
        if self.onProgress:
            n = max(len(self.steps), 1)
            self.onProgress(None if fraction is None else (self.index + fraction) / n)

    def _next(self):
        self.index += 1
        title, commandLine = self.steps[self.index]
        if self.onLine:
            self.onLine(f"[{self.index + 1}/{len(self.steps)}] {title}")
        self._progress(0.0)
        self.current = BackgroundCommand(commandLine, onLine=self.onLine, onProgress=self._progress,
                                         onFinished=self._stepFinished).start()

    def _stepFinished(self, returnCode, lines):
        if returnCode == 0 and not self.cancelled and self.index + 1 < len(self.steps):
            self._next()
            return
        self.current = None
        if self.onFinished:
            self.onFinished(returnCode if not self.cancelled or returnCode != 0 else -1, lines)

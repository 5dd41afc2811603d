"""Child-process entry point: call one logic-layer function and print its progress.

``python -m MSPathobiologyLib.runner mspathobiology.lesions:run_case '{"args": [...], "kwargs": {...}}'``
imports the function, passes ``progress=callable(fraction, text)`` when the function takes a
``progress`` argument, and prints ``progress 42% text`` lines that
:func:`MSPathobiologyLib.background.parse_progress` reads. Exit code 0 on success, 2 on an
``InputError`` (bad input, message printed), 1 on any other error (traceback printed).
No Qt, no Slicer: it runs in ``PythonSlicer``.
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys
import traceback


def _progress(fraction, text=""):
    print(f"progress {100.0 * float(fraction):.0f}% {text}", flush=True)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or ":" not in argv[0]:
        print("usage: python -m MSPathobiologyLib.runner package.module:function JSON", file=sys.stderr)
        return 2
    moduleName, functionName = argv[0].split(":", 1)
    if not moduleName.startswith("mspathobiology"):
        print(f"refusing to run {moduleName}: only mspathobiology functions", file=sys.stderr)
        return 2
    spec = json.loads(argv[1])
    function = getattr(importlib.import_module(moduleName), functionName)
    kwargs = dict(spec.get("kwargs", {}))
    if "progress" in inspect.signature(function).parameters:
        kwargs["progress"] = _progress
    from mspathobiology.errors import InputError

    try:
        result = function(*spec.get("args", []), **kwargs)
    except InputError as exc:
        print(f"error: {exc}", flush=True)
        return 2
    except Exception:  # noqa: BLE001 - reported to the parent through the output and exit code
        traceback.print_exc(file=sys.stdout)
        return 1
    _progress(1.0, "done")
    if isinstance(result, dict):
        print("result " + json.dumps({k: v for k, v in result.items() if isinstance(v, (int, float, str, bool))}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

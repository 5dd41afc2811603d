"""Validation of command-line arguments at the edge: one-line messages, no tracebacks.

Each function here is an ``argparse`` ``type=``: it returns the converted value or raises
``argparse.ArgumentTypeError`` with a message that says what is allowed, so
``mspathobiology lesions --min-volume nan`` ends with
``mspathobiology lesions: error: argument --min-volume: must be a finite number >= 0, not 'nan'``.
The same checks are available to library callers as :func:`check_number` and
:func:`check_output_folder` (they raise :class:`~mspathobiology.errors.ArgumentError`).
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from .errors import ArgumentError


def check_number(value, name: str, minimum: float | None = None, maximum: float | None = None,
                 exclusive_minimum: bool = False, integer: bool = False, unit: str = ""):
    """Return ``value`` as a float (or int with ``integer``) if it is finite and within the range,
    else raise :class:`ArgumentError` naming ``name``."""
    what = "an integer" if integer else "a finite number"
    bounds = []
    if minimum is not None:
        bounds.append(f"{'>' if exclusive_minimum else '>='} {minimum:g}")
    if maximum is not None:
        bounds.append(f"<= {maximum:g}")
    rule = what + (" " + " and ".join(bounds) if bounds else "") + (f" ({unit})" if unit else "")
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
        if integer:
            if isinstance(value, str):
                number = int(value.strip(), 10)
            elif not number.is_integer():
                raise ValueError
            else:
                number = int(number)
    except (TypeError, ValueError, OverflowError):
        raise ArgumentError(name, f"must be {rule}, not {value!r}") from None
    if not math.isfinite(number) \
            or (minimum is not None and (number <= minimum if exclusive_minimum else number < minimum)) \
            or (maximum is not None and number > maximum):
        raise ArgumentError(name, f"must be {rule}, not {value!r}")
    return number


def number(minimum: float | None = None, maximum: float | None = None, exclusive_minimum: bool = False,
           integer: bool = False, unit: str = ""):
    """An argparse ``type=`` accepting finite numbers in a range (see :func:`check_number`)."""
    def convert(text):
        try:
            return check_number(text, "value", minimum, maximum, exclusive_minimum, integer, unit)
        except ArgumentError as exc:
            raise argparse.ArgumentTypeError(exc.problem) from None
    convert.__name__ = "integer" if integer else "number"
    return convert


#: Common argument types.
finite_float = number()
non_negative_float = number(minimum=0.0)
positive_float = number(minimum=0.0, exclusive_minimum=True)
positive_int = number(minimum=1, integer=True)
non_negative_int = number(minimum=0, integer=True)


def _existing_ancestor(path: Path) -> Path:
    for candidate in [path, *path.parents]:
        if candidate.exists():
            return candidate
    return Path(".")


def check_output_folder(path, name: str = "--out") -> Path:
    """Raise :class:`ArgumentError` unless ``path`` is a folder that exists and can be written,
    or can be created (its nearest existing parent is a writable folder)."""
    text = str(path)
    if not text.strip() or "\x00" in text:
        raise ArgumentError(name, f"{text!r} is not a usable folder name")
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ArgumentError(name, f"{path} exists and is a file, not a folder")
    base = _existing_ancestor(path)
    if not base.is_dir():
        raise ArgumentError(name, f"{path} cannot be created: {base} is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise ArgumentError(name, f"{path} cannot be written: {base} is read-only")
    return path


def check_output_file(path, name: str = "--out") -> Path:
    """Raise :class:`ArgumentError` unless a file can be written at ``path`` (not a folder;
    its folder exists or can be created and is writable)."""
    text = str(path)
    if not text.strip() or "\x00" in text:
        raise ArgumentError(name, f"{text!r} is not a usable file name")
    path = Path(path)
    if path.is_dir() or text.endswith(("/", os.sep)):
        raise ArgumentError(name, f"{path} is a folder; give a file name")
    check_output_folder(path.parent if str(path.parent) else Path("."), name)
    return path


def check_input_file(path, name: str = "input") -> Path:
    """Raise :class:`ArgumentError` unless ``path`` is an existing, readable file."""
    path = Path(path)
    if "\x00" in str(path) or not path.exists():
        raise ArgumentError(name, f"{path}: file not found")
    if path.is_dir():
        raise ArgumentError(name, f"{path} is a folder, not a file")
    if not os.access(path, os.R_OK):
        raise ArgumentError(name, f"{path} cannot be read (permission denied)")
    return path


def check_input_folder(path, name: str = "input") -> Path:
    """Raise :class:`ArgumentError` unless ``path`` is an existing folder."""
    path = Path(path)
    if "\x00" in str(path) or not path.exists():
        raise ArgumentError(name, f"{path}: folder not found")
    if not path.is_dir():
        raise ArgumentError(name, f"{path} is a file, not a folder")
    return path


def _as_type(check, name):
    def convert(text):
        try:
            return str(check(text, "value"))
        except ArgumentError as exc:
            raise argparse.ArgumentTypeError(exc.problem) from None
    convert.__name__ = name
    return convert


#: argparse types for paths (they return the path as given, as a string).
output_folder = _as_type(check_output_folder, "output folder")
output_file = _as_type(check_output_file, "output file")
input_file = _as_type(check_input_file, "input file")
input_folder = _as_type(check_input_folder, "input folder")


def _mask_file(text):
    from .errors import InputError
    from .io import check_mask_coverage, read_image
    check_input_file(text, "value")
    try:
        check_mask_coverage(read_image(text, kind="label"), str(text))
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return str(text)


def mask_file(text):
    """argparse type: an existing brain or lesion mask (or lesion labelmap) that is readable,
    holds labels, and does not cover the whole image (:func:`mspathobiology.io.check_mask_coverage`)."""
    try:
        return _mask_file(text)
    except ArgumentError as exc:
        raise argparse.ArgumentTypeError(exc.problem) from None


mask_file.__name__ = "mask file"


def input_path(text):
    """argparse type: an existing file or folder (e.g. a dataset folder or a case list)."""
    if "\x00" in str(text) or not Path(text).exists():
        raise argparse.ArgumentTypeError(f"{text}: not found")
    return str(text)

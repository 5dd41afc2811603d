"""The one rule that turns a rater's or reader's name into the identity used in file names.

Rule (applied by :func:`person_label`, used by every writer: review stores, reviewed
files, rating files, and the Slicer modules):

1. Unicode is normalised (NFKD) and accents are dropped (``"Zoë"`` -> ``"Zoe"``).
2. Only ASCII letters and digits count; every other character (space, ``.``, ``-``, ``_``,
   ``'``, ...) separates nothing and is dropped.
3. Letter case does not count: the label is lower case.

So ``"jane doe"``, ``"Jane.Doe"``, ``"JANE_DOE"`` and ``"janedoe"`` are ONE person,
``janedoe``, and write the same files. Case is ignored on purpose: on case-insensitive file
systems (macOS, Windows) ``JaneDoe`` and ``janedoe`` would be one file anyway, so treating
them as two people would make the result depend on the computer. Different letters or
digits are different people (``"jane doe"`` vs ``"jane doe2"``). A name with no letter or
digit is refused. The spelling given first is kept for display (``display_name``).
"""

from __future__ import annotations

import glob
import unicodedata
from pathlib import Path

from .errors import InputError

#: The longest label accepted (file names stay well below the 255-byte limit of common file systems).
MAX_LABEL_LENGTH = 64


def person_label(name, what: str = "rater") -> str:
    """The identity label of a person's name (see the module rule): lower-case ASCII letters and digits."""
    if not isinstance(name, str):
        raise InputError(what, f"name must be text, not {type(name).__name__}")
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    label = "".join(c for c in folded if c.isascii() and c.isalnum()).lower()
    if not label:
        raise InputError(what, f"name {name!r} has no letters or digits; give a {what} name")
    if len(label) > MAX_LABEL_LENGTH:
        raise InputError(what, f"name {name!r} is longer than {MAX_LABEL_LENGTH} letters and digits")
    return label


def display_name(name) -> str:
    """The name as shown to people: printable characters only, runs of white space collapsed."""
    text = "".join(c if c.isprintable() else " " for c in str(name))
    return " ".join(text.split())


def same_person(a, b) -> bool:
    """Whether two spellings name one person under the module rule."""
    return person_label(a) == person_label(b)


def other_spellings(folder, prefix: str, suffix: str, label: str) -> list:
    """Files ``<prefix><spelling><suffix>`` in ``folder`` whose spelling is not ``label`` itself but names
    the same person under the rule (files written before the rule, e.g. ``rater-JaneDoe``), sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob(glob.escape(prefix) + "*" + glob.escape(suffix)):
        spelling = path.name[len(prefix):len(path.name) - len(suffix)]
        if spelling == label or not spelling:
            continue
        try:
            if person_label(spelling) == label:
                found.append(path)
        except InputError:
            continue
    return sorted(found)

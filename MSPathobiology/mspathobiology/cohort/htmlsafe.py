"""The one way report pages put text from files, tables and users into HTML.

Every string that comes from a file name, a table cell, a case label or a reader goes
through :func:`escape` (element text and quoted attribute values alike: ``& < > " '``
become entities) or, for links, :func:`href` (each path segment percent-encoded, then
escaped). Pages start with :func:`page_head`, which sets a restrictive
Content-Security-Policy (:data:`~mspathobiology.defaults.cohort.REPORT_CSP`) that allows
the page's one inline style sheet by its SHA-256 hash, so that even markup that slipped
through could neither run a script nor load anything from elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
import html
from pathlib import PurePosixPath
from urllib.parse import quote

from ..defaults.cohort import REPORT_CSP


def escape(value) -> str:
    """Text safe inside an element or a quoted attribute (None -> empty)."""
    return html.escape("" if value is None else str(value), quote=True)


def href(path) -> str:
    """A relative link to ``path`` (a POSIX relative path), percent-encoded per segment and
    escaped; never a scheme (``javascript:``), because the first segment is encoded too."""
    parts = PurePosixPath(str(path).replace("\\", "/")).parts
    encoded = "/".join(quote(part, safe="") if part not in ("..", ".") else part for part in parts)
    if ":" in encoded.split("/")[0]:  # cannot happen after quote(), kept as a guard
        encoded = "./" + encoded
    return escape(encoded)


def style_hash(css: str) -> str:
    """CSP source expression allowing exactly this inline style sheet."""
    digest = hashlib.sha256(css.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def content_security_policy(css: str) -> str:
    return f"{REPORT_CSP}; style-src {style_hash(css)}"


def page_head(title: str, css: str) -> str:
    """``<!doctype html>`` … ``<body>`` with the CSP, the escaped title and the style sheet."""
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{escape(content_security_policy(css))}\">"
            "<meta name='referrer' content='no-referrer'>"
            f"<title>{escape(title)}</title><style>{css}</style></head><body>")

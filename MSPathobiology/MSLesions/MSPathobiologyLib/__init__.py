"""Qt/Slicer helpers shared by the MSPathobiology scripted modules.

The science lives in the pure-Python package ``mspathobiology`` and MRML conversion in
``mspathobiology_mrml``; this package holds only what the five module widgets share:
finding the logic packages (:mod:`.paths`), Python dependencies (:mod:`.dependencies`),
running a ``mspathobiology`` command in the background (:mod:`.background`), slice-view
and Segment Editor helpers (:mod:`.views`), node/file exchange (:mod:`.nodes`) and the
display defaults (:mod:`.defaults`).

It is installed with MSLesions; a built extension puts it next to every module file, and
each module adds ``MSPathobiology/MSLesions`` to ``sys.path`` when run from a source checkout.
"""

"""Slicer-side library shared by the MSPathobiology scripted modules (needs the application).

The science lives in the pure-Python package ``mspathobiology`` and MRML conversion in
``mspathobiology_mrml``; this package holds only what the module widgets and logics share:

- :mod:`.widgets`: the widget setup, parameter-node lifecycle, readable choice labels and
  background-job progress of every module widget;
- :mod:`.dependencies`: Python packages Slicer does not bundle, installed on first use, and
  the self-tests' handling of them;
- :mod:`.selftest_data`: the data each module's self-test builds (Qt-free, tested outside Slicer);
- :mod:`.cases`: the case registry through which MS Case Review loads and saves what each
  module declares for a case (as SlicerCaseIterator's registered widgets);
- :mod:`.background` and :mod:`.runner`: logic-layer work in a child process;
- :mod:`.rating`: the lesion-by-lesion rating loop (open session, undo, reading keys) over the
  shared rating store ``mspathobiology.rims.ratings``;
- :mod:`.views`: slice views, layouts and the Segment Editor;
- :mod:`.nodes`: node <-> image exchange through the bridge and the subject hierarchy placement
  of outputs; :mod:`.defaults`: display defaults.

It is installed with the extension next to the modules (``MSPathobiology/CMakeLists.txt``). In a
source checkout it sits in ``MSPathobiology/`` beside ``mspathobiology`` and
``mspathobiology_mrml``, the folder each module file adds to ``sys.path``.
"""

"""MSPathobiology logic layer: pure Python (numpy, SimpleITK, VTK, scipy), no Qt, no Slicer.

Subpackages: ``phantom`` (digital MS phantom), ``lesions``, ``rims``, ``atrophy``,
``networks`` and ``cohort``. Shared foundations: ``io`` (image and table I/O),
``geometry`` (the one geometry check, resampling, RAS/LPS), ``connectivity``
(the one connected-component definition), ``lesion_table`` (the one lesion schema),
``bids`` (file naming) and ``defaults`` (every named default with its source).
"""

__version__ = "0.1.0"

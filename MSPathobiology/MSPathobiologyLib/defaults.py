"""Display defaults of the Slicer modules (viewing choices, not analysis parameters).

Analysis defaults live in ``mspathobiology.defaults``; these only decide what the reader sees.
"""

#: Field of view (mm across) when a view is zoomed on one lesion for reading: the lesion is
#: shown with a margin of normal-appearing white matter around it, as CVS_rater crops each
#: lesion with a margin (Sati/Absinta NAIMS CVS workflow). At least this many mm ...
LESION_VIEW_MIN_FOV_MM = 30.0
#: ... and at least this multiple of the lesion's long axis.
LESION_VIEW_FOV_PER_LONG_AXIS = 3.0

#: Phase window preset (rad): high-pass filtered phase of WM rims is about +-0.1 rad at 3 T,
#: TE 20 ms (dipole model, gamma*B0*TE*chi with chi ~ 10-40 ppb; Absinta et al., JCI 2016
#: read PRL on filtered phase). A 0.6 rad window centred on 0 keeps rims and veins visible.
PHASE_WINDOW_RAD = 0.6
PHASE_LEVEL_RAD = 0.0

#: QSM window preset (ppb): rims are +10 to +40 ppb against NAWM and veins several hundred ppb
#: (Absinta et al., JCI 2016; Dal-Bianco et al., Acta Neuropathol 2017); -150..+150 ppb shows both.
QSM_WINDOW_PPB = 300.0
QSM_LEVEL_PPB = 0.0

#: Opacity of an overlaid map (Jacobian / displacement) and of lesion outlines.
OVERLAY_OPACITY = 0.5

#: Most streamlines drawn in 3D (the connectome is always computed on all of them);
#: VTK line rendering stays interactive around this size on a laptop GPU.
MAX_DISPLAYED_STREAMLINES = 50000

#: Connectome 3D glyphs: sphere radius range (mm) for node size, tube radius range (mm) for edges.
NODE_RADIUS_RANGE_MM = (1.5, 6.0)
EDGE_RADIUS_RANGE_MM = (0.2, 1.5)
#: Edges weaker than this fraction of the strongest edge are not drawn (clutter only; the
#: matrix and the tables keep every edge).
EDGE_DISPLAY_MIN_FRACTION = 0.02

#: After the last segment edit, wait this long (ms) before relabelling and updating the lesion
#: table: long enough that a paint stroke or a run of erase clicks is one update, short enough
#: that the table is current when the reader looks back at it (a relabel at 150 lesions takes
#: well under 1 s, benchmarks/relabel_speed.py).
TABLE_REFRESH_DELAY_MS = 1500

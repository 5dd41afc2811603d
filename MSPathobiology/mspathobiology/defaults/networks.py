"""Defaults of the network part (connectome, graph metrics, lesion disconnection)."""

#: Endpoint assignment: ``"end"`` looks up the voxel nearest to each endpoint, as
#: DIPY ``dipy.tracking.utils.connectivity_matrix`` does (Garyfallidis et al.,
#: Front Neuroinform 2014).
DEFAULT_ASSIGNMENT = "end"

#: Radius (mm) of the radial search for an endpoint whose own voxel is unlabelled;
#: MRtrix3 ``tck2connectome -assignment_radial_search`` default is 4 mm
#: (Smith et al., NeuroImage 2015, "The effects of SIFT on the reproducibility
#: and biological accuracy of the structural connectome").
RADIAL_SEARCH_MM = 4.0

#: Streamlines whose endpoints are not both assigned are dropped, and label 0 gets no
#: row or column, as MRtrix3 ``tck2connectome`` without ``-keep_unassigned``.
DROP_UNASSIGNED = True

#: The command line and ``run_case`` zero the diagonal (self-connections), because the
#: graph measures of the Brain Connectivity Toolbox (Rubinov & Sporns, NeuroImage 2010)
#: are defined for graphs without self-loops (MRtrix3 option ``-zero_diagonal``).
ZERO_DIAGONAL = True

#: Edge weight of the command line: streamline count (MRtrix3 ``tck2connectome`` default).
DEFAULT_WEIGHT = "count"

#: Largest fraction of streamline endpoints allowed outside the parcellation grid
#: before the tractogram is refused as lying outside the image (wrong space, e.g. LPS
#: written as RAS, or wrong reference). DIPY refuses any endpoint outside the grid; a
#: small margin tolerates tractograms seeded on a slightly larger field of view.
MAX_OUTSIDE_FRACTION = 0.05

#: Lesion crossing: 0 = exact traversal of every segment through the voxels it passes
#: (Amanatides & Woo, Eurographics 1987); > 0 = sampling each segment at this step in voxels,
#: as NeMo (Kuceyeski et al., Brain Connect 2013) and the Lesion Quantification Toolkit
#: (Griffis et al., NeuroImage Clin 2021) do at about half a voxel. Sampling misses segments
#: that clip a lesion voxel's corner: against the phantom's exact truth, 0.5 / 0.25 / 0.1 /
#: 0.05 / 0.025 voxel missed 2.2-2.8 / 1.1-1.2 / 0.2-1.2 / 0.1-1.0 / up to 0.6 % of true
#: crossings (clips of 0.002-0.02 voxel), above the 0.5 % that issue 12 allows at any
#: practical step, so the default is exact (0 missed); ``benchmarks/networks_truth.py``
#: prints these figures.
SAMPLING_STEP_VOXELS = 0.0

#: Points per chunk when a tractogram is read and processed block by block (12 MB of
#: float32 points): peak memory depends on this, not on the file (benchmarks/networks_mrtrix.py
#: prints the peak for a 948 MB .tck). Per-chunk temporaries stay below glibc's 32 MB mmap
#: threshold, so blocks reuse freed memory instead of page-faulting fresh arrays.
CHUNK_POINTS = 1 << 20

#: Segment samples per block in the lesion-crossing sampling (bounds temporary memory to ~40 MB).
SAMPLE_BLOCK = 1 << 19

#: Weighted graph measures use W / max(W) (weights in [0, 1], as the Brain Connectivity
#: Toolbox requires) and the connection length L = 1 / w (Rubinov & Sporns 2010).
NORMALISE_WEIGHTS = True

#: Louvain modularity (Blondel et al., J Stat Mech 2008): resolution gamma = 1
#: (Newman-Girvan modularity) and a fixed seed so results are reproducible.
LOUVAIN_RESOLUTION = 1.0
LOUVAIN_SEED = 0

#: A VTK polydata (.vtk/.vtp) file without a ``SPACE=`` tag has no declared frame: MRtrix3
#: ``tckconvert`` writes RAS without a tag, Slicer < 4.11 wrote RAS, Slicer >= 4.11 writes
#: LPS with a tag (vtkMRMLModelStorageNode). Such files are refused unless the caller gives
#: the frame (``vtk_space`` / ``--vtk-space``); no default is guessed (issue 13).
VTK_UNTAGGED_SPACE = None

#: Coordinate frame written into .vtk/.vtp files (with a ``SPACE=`` tag), as Slicer does.
VTK_WRITE_SPACE = "LPS"

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

#: Lesion sampling step along each streamline segment, in voxels: segments are
#: subdivided so that consecutive samples are <= half a voxel apart (Nyquist for a
#: 1-voxel object), as in NeMo's tractogram-lesion intersection (Kuceyeski et al.,
#: Brain Connect 2013) and the Lesion Quantification Toolkit (Griffis et al.,
#: NeuroImage Clin 2021). We halve it again to 0.25 voxel: at 0.5 a straight segment
#: clipping a voxel corner is missed measurably often (about 0.2 % of crossing
#: streamlines on the phantom); the phantom's disconnection truth uses this same step.
SAMPLING_STEP_VOXELS = 0.25

#: Points per processing block for the disconnection and scalar sampling. Temporaries stay
#: below glibc's 32 MB mmap threshold, so blocks reuse memory instead of page-faulting
#: fresh arrays (measured fastest of 2^19..2^21 in benchmarks/networks_speed.py).
CHUNK_POINTS = 1 << 20

#: Segment samples per block in the disconnection sampling (bounds temporary memory).
SAMPLE_BLOCK = 1 << 20

#: Streamlines per block of endpoint look-ups in the connectome (same reason; ~30 MB).
ENDPOINT_BLOCK = 1 << 18

#: Weighted graph measures use W / max(W) (weights in [0, 1], as the Brain Connectivity
#: Toolbox requires) and the connection length L = 1 / w (Rubinov & Sporns 2010).
NORMALISE_WEIGHTS = True

#: Louvain modularity (Blondel et al., J Stat Mech 2008): resolution gamma = 1
#: (Newman-Girvan modularity) and a fixed seed so results are reproducible.
LOUVAIN_RESOLUTION = 1.0
LOUVAIN_SEED = 0

#: Coordinate frame assumed for a VTK polydata (.vtk/.vtp) file without a ``SPACE=``
#: tag: Slicer >= 4.11 writes models in LPS and assumes LPS for untagged files
#: (vtkMRMLModelStorageNode constructor, Slicer commit of 2020 "Model files are now
#: saved in LPS coordinate system"). Pass ``space="RAS"`` for older RAS fibre bundles.
VTK_UNTAGGED_SPACE = "LPS"

#: Coordinate frame written into .vtk/.vtp files (with a ``SPACE=`` tag), as Slicer does.
VTK_WRITE_SPACE = "LPS"

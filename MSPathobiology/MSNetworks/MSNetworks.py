import os
import pathlib
import sys
from typing import Annotated, Union

import qt

import slicer
from slicer.i18n import tr as _
from slicer.ScriptedLoadableModule import *
from slicer.util import VTKObservationMixin
from slicer.parameterNodeWrapper import (
    parameterNodeWrapper,
    Choice,
    WithinRange,
)

from slicer import (
    vtkMRMLLabelMapVolumeNode,
    vtkMRMLModelNode,
    vtkMRMLScalarVolumeNode,
    vtkMRMLSegmentationNode,
    vtkMRMLTableNode,
)


def _addSourceCheckoutPaths():
    """Make ``mspathobiology`` and ``MSPathobiologyLib`` importable from a source checkout
    (a built extension installs both next to this file)."""
    here = os.path.dirname(os.path.abspath(__file__))
    parent = os.path.dirname(here)
    for path, marker in ((parent, "mspathobiology"), (os.path.join(parent, "MSLesions"), "MSPathobiologyLib")):
        if os.path.isdir(os.path.join(path, marker)) and path not in sys.path:
            sys.path.append(path)


_addSourceCheckoutPaths()

from MSPathobiologyLib.widgets import ParameterNodeGuiMixin  # noqa: E402

from mspathobiology.defaults import networks as NETWORK_DEFAULTS  # noqa: E402

#: Node attribute holding the tractogram file a (display-subsampled) node was loaded from.
SOURCE_FILE_ATTRIBUTE = "MSNetworks.SourceFile"
#: Node references from the nodal-metrics table to the 3D connectome models and other outputs.
NODES_MODEL_ROLE, EDGES_MODEL_ROLE = "MSNetworksNodesModel", "MSNetworksEdgesModel"
REGIONS_TABLE_ROLE, MATRIX_TABLE_ROLE = "MSNetworksRegionsTable", "MSNetworksMatrixTable"
#: Colour of edges by percent disconnected (0 blue .. 100 red).
EDGE_COLOR_NODE_ID = "vtkMRMLColorTableNodeFileColdToHotRainbow.txt"


def hasSlicerDMRI() -> bool:
    """True when SlicerDMRI's fiber bundle node class is available in this Slicer."""
    return hasattr(slicer, "vtkMRMLFiberBundleNode")


#
# MSNetworks
#


class MSNetworks(ScriptedLoadableModule):
    """Uses ScriptedLoadableModule base class, available at:
    https://github.com/Slicer/Slicer/blob/main/Base/Python/slicer/ScriptedLoadableModule.py
    """

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("MS Networks")
        self.parent.categories = ["MS Pathobiology"]
        self.parent.dependencies = []
        self.parent.contributors = ["MSPathobiology developers"]
        self.parent.helpText = _("""
Structural connectome of the subject's own tractogram, graph metrics and lesion disconnection.
<ul>
<li>Tractograms: .tck/.trk (nibabel), .trx (trx-python, memory-mapped), .vtk/.vtp; shown as a fiber
bundle when SlicerDMRI is installed, else as a model.</li>
<li>Connectome by end-voxel assignment (as DIPY's connectivity_matrix) or radial search (as MRtrix
tck2connectome, Smith et al., NeuroImage 2015).</li>
<li>Graph metrics as defined in the Brain Connectivity Toolbox (Rubinov &amp; Sporns, NeuroImage 2010).</li>
<li>Disconnection: streamlines through lesion voxels, per edge and per region, and the change of each
graph metric (after NeMo's ChaCo, Kuceyeski et al., Brain Connect 2013, and the Lesion Quantification
Toolkit, Griffis et al., NeuroImage Clin 2021).</li>
</ul>
The 3D view shows regions as spheres sized by degree or strength and edges as tubes weighted by
strength, coloured by the percent of their streamlines that are disconnected.
""")
        self.parent.acknowledgementText = _("""
Part of the MSPathobiology extension. SlicerDMRI (optional) provides fiber bundle display.
""")


#
# MSNetworksParameterNode
#


@parameterNodeWrapper
class MSNetworksParameterNode:
    """
    tractogramFile - file loaded by "Load tractogram"; tractogram - fiber bundle or model node.
    parcellationVolume - region labels; lesions - optional lesion segmentation or labelmap.
    scalarVolume - optional scalar map (e.g. FA) for the "mean_scalar" edge weight.
    assignment, radialSearchMm, weight - connectome options; nodeSizeMetric - 3D sphere size.
    nodesTable, disconnectionTable - outputs (more outputs are referenced from nodesTable).
    """

    tractogramFile: pathlib.Path
    tractogram: vtkMRMLModelNode
    parcellationVolume: vtkMRMLScalarVolumeNode
    lesions: Union[vtkMRMLSegmentationNode, vtkMRMLLabelMapVolumeNode, None]
    scalarVolume: vtkMRMLScalarVolumeNode
    assignment: Annotated[str, Choice(["end", "radial"])] = NETWORK_DEFAULTS.DEFAULT_ASSIGNMENT
    radialSearchMm: Annotated[float, WithinRange(0.5, 20.0)] = NETWORK_DEFAULTS.RADIAL_SEARCH_MM
    weight: Annotated[str, Choice(["count", "invlength", "invnodevol", "mean_scalar"])] = NETWORK_DEFAULTS.DEFAULT_WEIGHT
    nodeSizeMetric: Annotated[str, Choice(["degree", "strength"])] = "strength"
    nodesTable: vtkMRMLTableNode
    disconnectionTable: vtkMRMLTableNode


#
# MSNetworksWidget
#


class MSNetworksWidget(ParameterNodeGuiMixin, ScriptedLoadableModuleWidget, VTKObservationMixin):
    """Uses ScriptedLoadableModuleWidget base class, available at:
    https://github.com/Slicer/Slicer/blob/main/Base/Python/slicer/ScriptedLoadableModule.py
    """

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)

        uiWidget = slicer.util.loadUI(self.resourcePath("UI/MSNetworks.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = MSNetworksLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.loadTractogramButton.connect("clicked(bool)", self.onLoadTractogram)
        self.ui.computeButton.connect("clicked(bool)", self.onCompute)

        self.initializeParameterNode()

    def cleanup(self) -> None:
        self.removeObservers()

    def _onParameterNodeModified(self, caller=None, event=None) -> None:
        p = self._parameterNode
        if not p:
            return
        self.ui.computeButton.enabled = bool(p.tractogram and p.parcellationVolume)
        self.ui.loadTractogramButton.enabled = str(p.tractogramFile) not in ("", ".")
        self.ui.radialSearchSpinBox.enabled = p.assignment == "radial"
        self.ui.nodesTableView.setMRMLTableNode(p.nodesTable)
        self.ui.disconnectionTableView.setMRMLTableNode(p.disconnectionTable)

    def onLoadTractogram(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to load the tractogram."), waitCursor=True):
            from MSPathobiologyLib import dependencies

            dependencies.ensure("MSNetworks")
            node = self.logic.loadTractogram(self._parameterNode.tractogramFile)
            self._parameterNode.tractogram = node
            self.ui.statusLabel.text = _("Loaded {name} ({kind}).").format(
                name=node.GetName(), kind=_("fiber bundle") if node.IsA("vtkMRMLFiberBundleNode") else _("model"))

    def onCompute(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to compute the connectome."), waitCursor=True):
            from MSPathobiologyLib import dependencies

            dependencies.ensure("MSNetworks")
            p = self._parameterNode
            if not p.nodesTable:
                p.nodesTable = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLTableNode", "Nodal metrics")
            if p.lesions and not p.disconnectionTable:
                p.disconnectionTable = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLTableNode", "Edge disconnection")
            result = self.logic.compute(p.tractogram, p.parcellationVolume, p.lesions, assignment=p.assignment,
                                        radialSearchMm=p.radialSearchMm, weight=p.weight,
                                        scalarVolumeNode=p.scalarVolume)
            self.logic.fillTables(result, p.nodesTable, p.disconnectionTable)
            self.logic.showConnectome(result, p.nodesTable, sizeMetric=p.nodeSizeMetric)
            self.ui.globalMetricsLabel.text = self.logic.globalText(result)
            pixmap = qt.QPixmap()
            pixmap.loadFromData(self.logic.matrixPicture(result))
            self.ui.matrixLabel.setPixmap(pixmap.scaledToWidth(min(pixmap.width(), 420), qt.Qt.SmoothTransformation))
            self.ui.nodesTableView.setMRMLTableNode(p.nodesTable)
            self.ui.disconnectionTableView.setMRMLTableNode(p.disconnectionTable)
            self.ui.statusLabel.text = _("{n} streamlines, {r} regions.").format(n=result["streamline_count"], r=len(result["row_labels"]))


#
# MSNetworksLogic
#


class MSNetworksLogic(ScriptedLoadableModuleLogic):
    """Wiring between MRML nodes and ``mspathobiology.networks`` (connectome, metrics, disconnection)."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)

    def getParameterNode(self):
        return MSNetworksParameterNode(super().getParameterNode())

    # --- tractograms --------------------------------------------------------------------

    def loadTractogram(self, path, name=None):
        """Load a tractogram file into a fiber bundle node (SlicerDMRI) or a model node.

        ``.vtk``/``.vtp`` go through SlicerDMRI's reader when it is installed. Other formats are
        read by ``mspathobiology.networks.read_tractogram`` (RAS mm); the node shows at most
        ``MAX_DISPLAYED_STREAMLINES`` of them and remembers the file, from which the connectome
        is computed on every streamline.
        """
        from mspathobiology.networks import flat_arrays, read_tractogram
        from MSNetworksLib.geometry import streamlines_to_polydata
        from MSPathobiologyLib import defaults

        path = pathlib.Path(path)
        if str(path) in ("", "."):
            raise ValueError(_("Choose a tractogram file."))
        name = name or path.name.split(".")[0]
        if hasSlicerDMRI() and path.suffix.lower() in (".vtk", ".vtp"):
            node = slicer.util.loadFiberBundle(str(path))
            node.SetName(name)
            return node
        data, offsets, lengths = flat_arrays(read_tractogram(path))
        poly = streamlines_to_polydata(data, offsets, lengths, max_streamlines=defaults.MAX_DISPLAYED_STREAMLINES)
        node = self.tractogramNode(poly, name)
        node.SetAttribute(SOURCE_FILE_ATTRIBUTE, str(path.resolve()))
        return node

    @staticmethod
    def tractogramNode(poly, name):
        """A fiber bundle node when SlicerDMRI is installed, else a model node, holding ``poly`` (RAS mm)."""
        className = "vtkMRMLFiberBundleNode" if hasSlicerDMRI() else "vtkMRMLModelNode"
        node = slicer.mrmlScene.AddNewNodeByClass(className, name)
        node.SetAndObservePolyData(poly)
        node.CreateDefaultDisplayNodes()
        return node

    @staticmethod
    def streamlines(tractogramNode):
        """Streamlines (nibabel ArraySequence, RAS mm) of a node: its source file when it has one
        (every streamline, .trx memory-mapped), else the node's polylines."""
        from mspathobiology.networks import make_streamlines, read_tractogram
        from MSNetworksLib.geometry import polydata_to_streamlines

        source = tractogramNode.GetAttribute(SOURCE_FILE_ATTRIBUTE)
        if source and os.path.exists(source):
            return read_tractogram(source)
        if tractogramNode.GetParentTransformNode() is not None:
            raise ValueError(_("Harden the transform of {name} first.").format(name=tractogramNode.GetName()))
        data, offsets = polydata_to_streamlines(tractogramNode.GetPolyData())
        if not len(offsets):
            raise ValueError(_("{name} has no streamlines (polylines).").format(name=tractogramNode.GetName()))
        return make_streamlines(data, offsets)

    # --- analysis -----------------------------------------------------------------------

    def compute(self, tractogramNode, parcellationNode, lesionsNode=None, assignment="end",
                radialSearchMm=NETWORK_DEFAULTS.RADIAL_SEARCH_MM, weight="count", scalarVolumeNode=None) -> dict:
        """Connectome and graph metrics (``mspathobiology.networks.connectome`` / ``analyse``) or, with
        lesions, intact + lesioned connectomes (``disconnection``) and metric changes (``network_disruption``).

        Returns a dict with ``row_labels``, ``matrix``, ``nodes`` (rows), ``global``, ``centroids``
        (RAS mm per row) and, with lesions, ``lesioned``, ``edges``, ``regions``, ``summary``, ``disruption``.
        """
        import SimpleITK as sitk

        from mspathobiology import networks
        from mspathobiology.geometry import resample_label, same_geometry, voxel_to_ras
        from MSNetworksLib.geometry import region_centroids
        from MSPathobiologyLib.nodes import imageFromNode

        if tractogramNode is None or parcellationNode is None:
            raise ValueError(_("Select a tractogram and a parcellation."))
        streamlines = self.streamlines(tractogramNode)
        parcellation = imageFromNode(parcellationNode)
        assign = "end" if assignment == "end" else f"radial:{radialSearchMm}"
        result = {"streamline_count": len(streamlines)}
        scalar = None
        if scalarVolumeNode is not None:
            from mspathobiology.geometry import resample_intensity

            scalarImage = imageFromNode(scalarVolumeNode)
            if not same_geometry(scalarImage, parcellation):
                scalarImage = resample_intensity(scalarImage, parcellation, "linear")
            scalar = sitk.GetArrayFromImage(scalarImage).transpose(2, 1, 0)
        elif weight == "mean_scalar":
            raise ValueError(_("The mean_scalar weight needs a scalar map (e.g. FA)."))
        if lesionsNode is not None:
            lesions = imageFromNode(lesionsNode, parcellationNode)
            if not same_geometry(lesions, parcellation):
                lesions = resample_label(lesions, parcellation)
            found = networks.disconnection(streamlines, parcellation, None, lesions, assignment=assign, weight=weight,
                                           scalar=scalar)
            disruption = networks.network_disruption(found["matrix"], found["lesioned"], found["row_labels"])
            result.update(row_labels=found["row_labels"], matrix=found["matrix"], lesioned=found["lesioned"],
                          edges=found["edges"], regions=found["regions"], summary=found["summary"],
                          nodes=disruption["nodes_intact"], global_=disruption["intact"], disruption=disruption)
        else:
            matrix, rowLabels = networks.connectome(streamlines, parcellation, None, assignment=assign, weight=weight,
                                                    scalar=scalar)
            nodes, globalMetrics = networks.analyse(matrix, rowLabels)
            result.update(row_labels=rowLabels, matrix=matrix, nodes=nodes, global_=globalMetrics)
        labels_ijk = sitk.GetArrayFromImage(parcellation).transpose(2, 1, 0)
        result["centroids"] = region_centroids(labels_ijk, voxel_to_ras(parcellation), result["row_labels"])
        return result

    def fillTables(self, result: dict, nodesTableNode, disconnectionTableNode=None) -> None:
        """Nodal metrics (+ centroid RAS), edge disconnection, region disconnection and the matrix as table nodes."""
        import numpy as np

        import mspathobiology_mrml as bridge

        scene = slicer.mrmlScene
        nodes = []
        for row, centroid in zip(result["nodes"], result["centroids"]):
            nodes.append({**row, "centroid_r": float(centroid[0]), "centroid_a": float(centroid[1]),
                          "centroid_s": float(centroid[2])})
        bridge.rows_to_table(scene, nodes, nodesTableNode.GetName(), node=nodesTableNode)
        labels = [int(v) for v in result["row_labels"]]
        matrix = np.asarray(result["matrix"])
        matrixRows = [{"region": label, **{str(other): matrix[r, c].item() for c, other in enumerate(labels)}}
                      for r, label in enumerate(labels)]
        matrixNode = bridge.rows_to_table(scene, matrixRows, nodesTableNode.GetName() + " connectome",
                                          node=nodesTableNode.GetNodeReference(MATRIX_TABLE_ROLE))
        nodesTableNode.SetNodeReferenceID(MATRIX_TABLE_ROLE, matrixNode.GetID())
        if "edges" in result and disconnectionTableNode is not None:
            bridge.rows_to_table(scene, result["edges"], disconnectionTableNode.GetName(), node=disconnectionTableNode)
            regionsNode = bridge.rows_to_table(scene, result["regions"], disconnectionTableNode.GetName() + " regions",
                                               node=nodesTableNode.GetNodeReference(REGIONS_TABLE_ROLE))
            nodesTableNode.SetNodeReferenceID(REGIONS_TABLE_ROLE, regionsNode.GetID())

    def showConnectome(self, result: dict, ownerNode, sizeMetric: str = "strength"):
        """Spheres at region centroids sized by ``sizeMetric`` and tubes weighted by edge strength,
        coloured by percent disconnected; two model nodes referenced from ``ownerNode``."""
        import numpy as np

        from MSNetworksLib.geometry import edge_tubes, node_glyphs, percent_matrix
        from MSPathobiologyLib import defaults, views

        labels = [int(v) for v in result["row_labels"]]
        sizes = np.array([row[sizeMetric] for row in result["nodes"]], dtype=float)
        nodesPoly = node_glyphs(result["centroids"], sizes, defaults.NODE_RADIUS_RANGE_MM)
        percent = percent_matrix(labels, result["edges"]) if "edges" in result else None
        edgesPoly, drawn = edge_tubes(result["centroids"], result["matrix"], defaults.EDGE_RADIUS_RANGE_MM,
                                      defaults.EDGE_DISPLAY_MIN_FRACTION, percent)
        models = []
        for role, poly, name in ((NODES_MODEL_ROLE, nodesPoly, "connectome nodes"), (EDGES_MODEL_ROLE, edgesPoly, "connectome edges")):
            model = ownerNode.GetNodeReference(role)
            if model is None:
                model = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLModelNode", f"{ownerNode.GetName()} {name}")
                ownerNode.SetNodeReferenceID(role, model.GetID())
            model.SetAndObservePolyData(poly)
            models.append(model)
        views.showModel(models[0], color=(0.95, 0.78, 0.05))
        views.showModel(models[1], scalarName="value", colorNodeID=EDGE_COLOR_NODE_ID, scalarRange=(0.0, 100.0))
        result["drawn_edges"] = drawn
        return models

    @staticmethod
    def matrixPicture(result: dict) -> bytes:
        from MSNetworksLib.geometry import matrix_png, percent_matrix

        labels = [int(v) for v in result["row_labels"]]
        disconnected = percent_matrix(labels, result["edges"]) if "edges" in result else None
        return matrix_png(result["matrix"], labels, _("Connectome"), disconnected)

    @staticmethod
    def globalText(result: dict) -> str:
        g = result.get("global_", {})
        lines = []
        for key in ("density", "global_efficiency_weighted", "characteristic_path_length_weighted", "modularity"):
            if isinstance(g.get(key), (int, float)):
                lines.append(f"{key.replace('_', ' ')}: {g[key]:.4g}")
        summary = result.get("summary")
        if summary:
            lines.append(_("disconnected streamlines: {n} ({p:.1f} %)").format(
                n=summary.get("disconnected_streamlines", 0), p=summary.get("disconnected_percent", 0.0)))
            delta = result["disruption"].get("percent_change", {})
            if isinstance(delta.get("global_efficiency_weighted"), (int, float)):
                lines.append(_("global efficiency change: {d:+.2f} %").format(d=delta["global_efficiency_weighted"]))
        return "\n".join(lines)


#
# MSNetworksTest
#


class MSNetworksTest(ScriptedLoadableModuleTest):
    """In-Slicer test on the small phantom built by the logic layer (no download)."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_connectome_and_disconnection()

    def test_connectome_and_disconnection(self):
        import numpy as np

        import mspathobiology_mrml as bridge
        from mspathobiology.networks import flat_arrays
        from mspathobiology.phantom import generate_subject
        from MSNetworksLib.geometry import streamlines_to_polydata

        self.delayDisplay("Generating the small phantom")
        session = generate_subject(seed=0, small=True, sessions=1).sessions[0]
        scene = slicer.mrmlScene
        parcellation = bridge.image_to_volume(scene, session.parcellation, "parcellation", labelmap=True)
        lesions = bridge.image_to_volume(scene, session.lesions, "lesions", labelmap=True)
        data, offsets, lengths = flat_arrays(session.streamlines)
        logic = MSNetworksLogic()
        tractogram = logic.tractogramNode(streamlines_to_polydata(data, offsets, lengths), "tractogram")

        self.delayDisplay("Connectome with lesion disconnection")
        result = logic.compute(tractogram, parcellation, lesions)
        truth = session.truth["connectome"]
        position = {int(v): n for n, v in enumerate(result["row_labels"])}
        expected = np.zeros_like(np.asarray(result["matrix"]))
        for a, la in enumerate(truth["labels"]):
            for b, lb in enumerate(truth["labels"]):
                if la in position and lb in position:
                    expected[position[la], position[lb]] = truth["matrix"][a][b]
        np.testing.assert_array_equal(np.asarray(result["matrix"]), expected)
        self.assertEqual(result["summary"]["lesioned_streamlines"], len(session.truth["disconnected_streamlines"]))

        nodesTable = scene.AddNewNodeByClass("vtkMRMLTableNode", "Nodal metrics")
        edgesTable = scene.AddNewNodeByClass("vtkMRMLTableNode", "Edge disconnection")
        logic.fillTables(result, nodesTable, edgesTable)
        self.assertEqual(nodesTable.GetNumberOfRows(), len(result["row_labels"]))
        self.assertEqual(edgesTable.GetNumberOfRows(), len(result["edges"]))
        nodesModel, edgesModel = logic.showConnectome(result, nodesTable)
        self.assertGreater(nodesModel.GetPolyData().GetNumberOfPoints(), 0)
        self.assertGreater(edgesModel.GetPolyData().GetNumberOfPoints(), 0)
        self.assertTrue(logic.matrixPicture(result).startswith(b"\x89PNG"))

        self.delayDisplay("Mean-of-scalar edge weights")
        scalarNode = bridge.image_to_volume(scene, session.images["t1"], "scalar map")
        weighted = logic.compute(tractogram, parcellation, weight="mean_scalar", scalarVolumeNode=scalarNode)
        counts = np.asarray(result["matrix"]) > 0
        self.assertTrue(np.all(np.asarray(weighted["matrix"])[counts] > 0))
        self.assertTrue(np.all(np.asarray(weighted["matrix"])[~counts] == 0))
        with self.assertRaises(ValueError):
            logic.compute(tractogram, parcellation, weight="mean_scalar")
        self.delayDisplay("Test passed")

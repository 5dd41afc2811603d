import os
import pathlib
import sys
from typing import Annotated, Union

import qt
import slicer
from slicer.i18n import tr as _
from slicer.ScriptedLoadableModule import *
from slicer.util import VTKObservationMixin
from slicer.parameterNodeWrapper import parameterNodeWrapper, Choice, WithinRange
from slicer import (vtkMRMLLabelMapVolumeNode, vtkMRMLModelNode, vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode,
                    vtkMRMLTableNode)

# In a source checkout the shared packages sit in MSPathobiology/, the parent of this module's folder.
sys.path.extend({os.path.dirname(os.path.dirname(os.path.abspath(__file__)))} - set(sys.path))

from MSPathobiologyLib import cases  # noqa: E402
from MSPathobiologyLib.widgets import describeModule, ParameterNodeGuiMixin, connectButtons, loadModuleUi  # noqa: E402
from mspathobiology.defaults import networks as NETWORK_DEFAULTS  # noqa: E402

#: Node attribute holding the tractogram file a (display-subsampled) node was loaded from.
SOURCE_FILE_ATTRIBUTE = "MSNetworks.SourceFile"
#: Node references from the nodal-metrics table to the 3D connectome models and other outputs.
NODES_MODEL_ROLE, EDGES_MODEL_ROLE = "MSNetworksNodesModel", "MSNetworksEdgesModel"
REGIONS_TABLE_ROLE, MATRIX_TABLE_ROLE = "MSNetworksRegionsTable", "MSNetworksMatrixTable"
#: Colour of edges by percent disconnected (0 blue .. 100 red).
EDGE_COLOR_NODE_ID = "vtkMRMLColorTableNodeFileColdToHotRainbow.txt"
#: Nodal measures of the lesioned graph shown next to the intact ones (``<name>_lesioned`` columns).
LESIONED_NODE_COLUMNS = ("degree", "strength", "clustering", "local_efficiency", "betweenness")
#: Subject-hierarchy folder of this module's outputs (under the parcellation's study).
OUTPUT_FOLDER = "MS Networks"


def hasSlicerDMRI() -> bool:
    """True when SlicerDMRI's fiber bundle node class is available in this Slicer."""
    return hasattr(slicer, "vtkMRMLFiberBundleNode")


HELP_TEXT = _("""
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
ACKNOWLEDGEMENT = _("""
Part of the MSPathobiology extension. SlicerDMRI (optional) provides fiber bundle display.
""")


#
# MSNetworks
#


class MSNetworks(ScriptedLoadableModule):
    """MS Networks (scripted module; see Slicer's ScriptedLoadableModule)."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        describeModule(self.parent, _("MS Networks"), HELP_TEXT, ACKNOWLEDGEMENT)


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

    choiceLabels = {
        "assignmentComboBox": {"end": _("End voxel (as DIPY)"), "radial": _("Radial search (as tck2connectome)")},
        "weightComboBox": {"count": _("Streamline count"), "invlength": _("Count / length"),
                           "invnodevol": _("Count / node volumes"), "mean_scalar": _("Mean of scalar map")},
        "nodeSizeComboBox": {"degree": _("Degree"), "strength": _("Strength")},
    }

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        self.ui = loadModuleUi(self, "MSNetworks")
        self.logic = MSNetworksLogic()
        connectButtons(self.ui, {"loadTractogramButton": self.onLoadTractogram, "computeButton": self.onCompute})
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
            p.nodesTable, p.disconnectionTable = self.logic.ensureOutputs(p.parcellationVolume, p.nodesTable,
                                                                          p.disconnectionTable, bool(p.lesions))
            result = self.logic.compute(p.tractogram, p.parcellationVolume, p.lesions, assignment=p.assignment,
                                        radialSearchMm=p.radialSearchMm, weight=p.weight,
                                        scalarVolumeNode=p.scalarVolume)
            centroids = self.logic.fillTables(result, p.parcellationVolume, p.nodesTable, p.disconnectionTable)
            self.logic.connectomeModels(result, centroids, p.nodesTable, sizeMetric=p.nodeSizeMetric)
            self.showConnectome(p.nodesTable)
            self.ui.globalMetricsLabel.text = self.logic.globalText(result)
            pixmap = qt.QPixmap()
            pixmap.loadFromData(self.logic.matrixPicture(result))
            self.ui.matrixLabel.setPixmap(pixmap.scaledToWidth(min(pixmap.width(), 420), qt.Qt.SmoothTransformation))
            self.ui.nodesTableView.setMRMLTableNode(p.nodesTable)
            self.ui.disconnectionTableView.setMRMLTableNode(p.disconnectionTable)
            self.ui.statusLabel.text = _("{n} streamlines, {r} regions.").format(
                n=result.counts["streamlines"], r=len(result.row_labels))

    @staticmethod
    def showConnectome(ownerNode) -> None:
        """Show the connectome models: yellow spheres, tubes coloured by percent disconnected."""
        from MSPathobiologyLib import views

        nodesModel, edgesModel = ownerNode.GetNodeReference(NODES_MODEL_ROLE), ownerNode.GetNodeReference(EDGES_MODEL_ROLE)
        views.showModel(nodesModel, color=(0.95, 0.78, 0.05))
        views.showModel(edgesModel, scalarName="value", colorNodeID=EDGE_COLOR_NODE_ID, scalarRange=(0.0, 100.0))


#
# MSNetworksLogic
#


class MSNetworksLogic(ScriptedLoadableModuleLogic):
    """Wiring between MRML nodes and ``mspathobiology.networks.analyse`` (connectome, graph measures of
    the intact and lesioned graphs, disconnection), plus the 3D display geometry. No GUI calls."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)

    def getParameterNode(self):
        return MSNetworksParameterNode(super().getParameterNode())

    @staticmethod
    def ensureOutputs(parcellationVolume, nodesTable=None, disconnectionTable=None, withLesions=False):
        from MSPathobiologyLib.nodes import outputNode

        nodesTable = nodesTable or outputNode("vtkMRMLTableNode", "Nodal metrics", parcellationVolume, OUTPUT_FOLDER)
        if withLesions and disconnectionTable is None:
            disconnectionTable = outputNode("vtkMRMLTableNode", "Edge disconnection", parcellationVolume, OUTPUT_FOLDER)
        return nodesTable, disconnectionTable

    # --- tractograms --------------------------------------------------------------------

    def loadTractogram(self, path, name=None):
        """Load a tractogram file into a fiber bundle node (SlicerDMRI) or a model node.

        ``.vtk``/``.vtp`` go through SlicerDMRI's reader when it is installed. Other files are read
        by ``mspathobiology.networks.read_tractogram`` (RAS mm); the node shows at most
        ``MAX_DISPLAYED_STREAMLINES`` of them and remembers the file, from which the connectome
        is computed on every streamline.
        """
        from mspathobiology.networks.tractograms import TRACTOGRAM_SUFFIXES, flat_arrays, read_tractogram

        path = pathlib.Path(path)
        if str(path) in ("", "."):
            raise ValueError(_("Choose a tractogram file."))
        suffix = path.suffix.lower()
        if suffix not in TRACTOGRAM_SUFFIXES:
            raise ValueError(_("{name}: not a tractogram ({suffixes}).").format(name=path.name,
                                                                               suffixes=", ".join(TRACTOGRAM_SUFFIXES)))
        name = name or path.name.split(".")[0]
        if hasSlicerDMRI() and suffix in (".vtk", ".vtp"):
            node = slicer.util.loadFiberBundle(str(path))
            node.SetName(name)
        else:
            node = self.tractogramNode(flat_arrays(read_tractogram(path)), name)
        node.SetAttribute(SOURCE_FILE_ATTRIBUTE, str(path.resolve()))
        return node

    @staticmethod
    def tractogramNode(flat, name):
        """A fiber bundle node (SlicerDMRI) or a model node showing at most ``MAX_DISPLAYED_STREAMLINES`` of
        the streamlines given as flat arrays ``(points RAS mm, offsets, lengths)``."""
        from mspathobiology.networks.tractograms import streamlines_to_polydata
        from MSNetworksLib.geometry import display_subset
        from MSPathobiologyLib import defaults

        subset = display_subset(*flat, max_streamlines=defaults.MAX_DISPLAYED_STREAMLINES)
        node = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLFiberBundleNode" if hasSlicerDMRI() else "vtkMRMLModelNode",
                                                  name)
        node.SetAndObservePolyData(streamlines_to_polydata(subset))
        node.CreateDefaultDisplayNodes()
        return node

    @staticmethod
    def tractogram(tractogramNode):
        """What ``networks.analyse`` reads: the node's source file (every streamline; .trx memory-mapped),
        else the node's polylines (RAS mm)."""
        from mspathobiology.networks.tractograms import polydata_to_streamlines

        source = tractogramNode.GetAttribute(SOURCE_FILE_ATTRIBUTE)
        if source and os.path.exists(source):
            return source
        if tractogramNode.GetParentTransformNode() is not None:
            raise ValueError(_("Harden the transform of {name} first.").format(name=tractogramNode.GetName()))
        return polydata_to_streamlines(tractogramNode.GetPolyData())

    # --- analysis -----------------------------------------------------------------------

    def compute(self, tractogramNode, parcellationNode, lesionsNode=None, assignment="end",
                radialSearchMm=NETWORK_DEFAULTS.RADIAL_SEARCH_MM, weight="count", scalarVolumeNode=None):
        """``mspathobiology.networks.analyse`` on the nodes: returns its ``NetworkResult``."""
        from mspathobiology import networks
        from MSPathobiologyLib.nodes import imagesFromNodes

        if tractogramNode is None or parcellationNode is None:
            raise ValueError(_("Select a tractogram and a parcellation."))
        images = imagesFromNodes({"parcellation": parcellationNode, "lesions": lesionsNode, "scalar": scalarVolumeNode},
                                 referenceVolumeNode=parcellationNode)
        return networks.analyse(images, self.tractogram(tractogramNode), assignment=assignment,
                                radius_mm=radialSearchMm, weight=weight)

    def fillTables(self, result, parcellationNode, nodesTableNode, disconnectionTableNode=None):
        """Nodal measures of the intact graph with the lesioned graph's (``*_lesioned``) and the region
        centroid (RAS mm), the matrix, and the edge and region disconnection tables. Returns the centroids."""
        import numpy as np
        import SimpleITK as sitk

        import mspathobiology_mrml as bridge
        from mspathobiology.geometry import voxel_to_ras
        from mspathobiology_mrml.hierarchy import place_outputs
        from MSNetworksLib.geometry import region_centroids

        scene = slicer.mrmlScene
        parcellation = bridge.volume_to_image(parcellationNode)
        labels = [int(v) for v in result.row_labels]
        centroids = region_centroids(sitk.GetArrayViewFromImage(parcellation).transpose(2, 1, 0),
                                     voxel_to_ras(parcellation), labels)
        lesioned = result.nodes_lesioned or [{}] * len(result.nodes)
        rows = [{**row, **{f"{k}_lesioned": after[k] for k in LESIONED_NODE_COLUMNS if k in after},
                 "centroid_r": float(c[0]), "centroid_a": float(c[1]), "centroid_s": float(c[2])}
                for row, after, c in zip(result.nodes, lesioned, centroids)]
        bridge.rows_to_table(scene, rows, nodesTableNode.GetName(), node=nodesTableNode)
        matrix = np.asarray(result.matrix)
        matrixRows = [{"region": label, **{str(other): matrix[r, c].item() for c, other in enumerate(labels)}}
                      for r, label in enumerate(labels)]
        matrixNode = bridge.rows_to_table(scene, matrixRows, nodesTableNode.GetName() + " connectome",
                                          node=nodesTableNode.GetNodeReference(MATRIX_TABLE_ROLE))
        place_outputs(nodesTableNode, [matrixNode], OUTPUT_FOLDER)
        nodesTableNode.SetNodeReferenceID(MATRIX_TABLE_ROLE, matrixNode.GetID())
        if result.lesioned is not None and disconnectionTableNode is not None:
            bridge.rows_to_table(scene, result.edges, disconnectionTableNode.GetName(), node=disconnectionTableNode)
            regionsNode = bridge.rows_to_table(scene, result.regions, disconnectionTableNode.GetName() + " regions",
                                               node=nodesTableNode.GetNodeReference(REGIONS_TABLE_ROLE))
            nodesTableNode.SetNodeReferenceID(REGIONS_TABLE_ROLE, regionsNode.GetID())
            place_outputs(nodesTableNode, [regionsNode], OUTPUT_FOLDER)
        return centroids

    @staticmethod
    def connectomeModels(result, centroids, ownerNode, sizeMetric: str = "strength"):
        """Spheres at region centroids sized by ``sizeMetric`` and tubes weighted by edge strength with
        the percent disconnected as scalar: two model nodes referenced from ``ownerNode``."""
        import numpy as np

        from MSNetworksLib.geometry import edge_tubes, node_glyphs, percent_matrix
        from MSPathobiologyLib import defaults
        from MSPathobiologyLib.nodes import outputNode

        labels = [int(v) for v in result.row_labels]
        sizes = np.array([row[sizeMetric] for row in result.nodes], dtype=float)
        nodesPoly = node_glyphs(centroids, sizes, defaults.NODE_RADIUS_RANGE_MM)
        percent = percent_matrix(labels, result.edges) if result.lesioned is not None else None
        edgesPoly, _drawn = edge_tubes(centroids, result.matrix, defaults.EDGE_RADIUS_RANGE_MM,
                                       defaults.EDGE_DISPLAY_MIN_FRACTION, percent)
        models = []
        for role, poly, name in ((NODES_MODEL_ROLE, nodesPoly, "connectome nodes"), (EDGES_MODEL_ROLE, edgesPoly, "connectome edges")):
            model = ownerNode.GetNodeReference(role)
            if model is None:
                model = outputNode("vtkMRMLModelNode", f"{ownerNode.GetName()} {name}", ownerNode, OUTPUT_FOLDER)
                ownerNode.SetNodeReferenceID(role, model.GetID())
            model.SetAndObservePolyData(poly)
            models.append(model)
        return models

    @staticmethod
    def matrixPicture(result) -> bytes:
        from MSNetworksLib.geometry import matrix_png, percent_matrix

        labels = [int(v) for v in result.row_labels]
        disconnected = percent_matrix(labels, result.edges) if result.lesioned is not None else None
        return matrix_png(result.matrix, labels, _("Connectome"), disconnected)

    @staticmethod
    def globalText(result) -> str:
        lines = []
        for key in ("density", "global_efficiency_weighted", "characteristic_path_length_weighted", "modularity"):
            if isinstance(result.metrics.get(key), (int, float)):
                lines.append(f"{key.replace('_', ' ')}: {result.metrics[key]:.4g}")
        if result.lesioned is not None:
            lines.append(_("disconnected streamlines: {n} ({p:.1f} %)").format(
                n=result.disconnection.get("disconnected_streamlines", 0),
                p=result.disconnection.get("disconnected_percent", 0.0)))
            change = (result.percent_change or {}).get("global_efficiency_weighted")
            if isinstance(change, (int, float)):
                lines.append(_("global efficiency change: {d:+.2f} %").format(d=change))
        return "\n".join(lines)


#
# Case review: what MS Networks loads and saves for a case (MSPathobiologyLib.cases)
#


cases.register(cases.CaseParticipant(
    module="MSNetworks",
    parameterNode=lambda: MSNetworksLogic().getParameterNode(),
    inputs={"tractogram": "tractogram", "parcellationVolume": "parcellation", "lesions": "lesions"},
    outputs=(cases.CaseFile("nodesTable", "network_nodes", "networknodes", "stats", ".tsv", "table"),
             cases.CaseFile("disconnectionTable", "disconnection", "disconnection", "stats", ".tsv", "table")),
    loaders={"tractogram": lambda path, name: MSNetworksLogic().loadTractogram(path, name)},
))


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
        from MSPathobiologyLib import dependencies, selftest_data

        dependencies.requireForTest(self, "MSNetworks", ["nibabel", "networkx", "matplotlib"])
        self.delayDisplay("Generating the small phantom")
        data = selftest_data.networks_data()
        scene = slicer.mrmlScene
        parcellation = bridge.image_to_volume(scene, data["parcellation"], "parcellation", labelmap=True)
        lesions = bridge.image_to_volume(scene, data["lesions"], "lesions", labelmap=True)
        logic = MSNetworksLogic()
        tractogram = logic.tractogramNode((data["points"], data["offsets"], data["lengths"]), "tractogram")
        self.assertEqual(tractogram.GetPolyData().GetNumberOfLines(), len(data["offsets"]))

        self.delayDisplay("Connectome with lesion disconnection")
        result = logic.compute(tractogram, parcellation, lesions)
        truth = data["truth_connectome"]
        position = {int(v): n for n, v in enumerate(result.row_labels)}
        expected = np.zeros_like(np.asarray(result.matrix))
        for a, la in enumerate(truth["labels"]):
            for b, lb in enumerate(truth["labels"]):
                if la in position and lb in position:
                    expected[position[la], position[lb]] = truth["matrix"][a][b]
        np.testing.assert_array_equal(np.asarray(result.matrix), expected)
        self.assertEqual(result.disconnection["lesioned_streamlines"], len(data["truth_disconnected"]))

        nodesTable, edgesTable = logic.ensureOutputs(parcellation, withLesions=True)
        centroids = logic.fillTables(result, parcellation, nodesTable, edgesTable)
        self.assertEqual(nodesTable.GetNumberOfRows(), len(result.row_labels))
        self.assertEqual(edgesTable.GetNumberOfRows(), len(result.edges))
        self.assertIn("strength_lesioned", bridge.table_to_rows(nodesTable)[0])
        nodesModel, edgesModel = logic.connectomeModels(result, centroids, nodesTable)
        MSNetworksWidget.showConnectome(nodesTable)
        self.assertGreater(nodesModel.GetPolyData().GetNumberOfPoints(), 0)
        self.assertGreater(edgesModel.GetPolyData().GetNumberOfPoints(), 0)
        self.assertTrue(logic.matrixPicture(result).startswith(b"\x89PNG"))

        self.delayDisplay("Mean-of-scalar edge weights")
        scalarNode = bridge.image_to_volume(scene, data["scalar"], "scalar map")
        weighted = logic.compute(tractogram, parcellation, weight="mean_scalar", scalarVolumeNode=scalarNode)
        counts = np.asarray(result.matrix) > 0
        self.assertTrue(np.all(np.asarray(weighted.matrix)[counts] > 0))
        self.assertTrue(np.all(np.asarray(weighted.matrix)[~counts] == 0))
        with self.assertRaises(Exception):
            logic.compute(tractogram, parcellation, weight="mean_scalar")
        self.delayDisplay("Test passed")

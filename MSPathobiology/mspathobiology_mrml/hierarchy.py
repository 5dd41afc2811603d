"""Where outputs go in the Subject Hierarchy: under the patient and study of their input.

Slicer's convention (the DICOM and Subject Hierarchy modules) is that everything made from a
volume sits in the same study as that volume, so it is saved, shown and closed with it. An
output of an analysis is moved into a folder (one per module) inside the input's study; an input
that is not in a study (loaded from NIfTI) keeps its outputs next to it, in the same parent.
"""

from __future__ import annotations


def subject_hierarchy(scene):
    import slicer

    return slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)


def study_of(node):
    """The subject-hierarchy item of the study (else the patient, else None) above ``node``."""
    if node is None or node.GetScene() is None:
        return None
    import slicer

    sh = subject_hierarchy(node.GetScene())
    item = sh.GetItemByDataNode(node)
    if not item:
        return None
    for level in (slicer.vtkMRMLSubjectHierarchyConstants.GetDICOMLevelStudy(),
                  slicer.vtkMRMLSubjectHierarchyConstants.GetDICOMLevelPatient()):
        ancestor = sh.GetItemAncestorAtLevel(item, level)
        if ancestor:
            return ancestor
    return None


def place_outputs(input_node, outputs, folder_name: str | None = None) -> int | None:
    """Move the subject-hierarchy items of ``outputs`` (nodes; None skipped) under the study of
    ``input_node`` (in a folder ``folder_name`` when given) or, outside any study, under the input's
    parent. Returns the parent item id used (None when the input is not in the hierarchy)."""
    if input_node is None or input_node.GetScene() is None:
        return None
    sh = subject_hierarchy(input_node.GetScene())
    input_item = sh.GetItemByDataNode(input_node)
    if not input_item:
        return None
    parent = study_of(input_node) or sh.GetItemParent(input_item)
    if folder_name:
        folder = sh.GetItemChildWithName(parent, folder_name)
        parent = folder or sh.CreateFolderItem(parent, folder_name)
    for node in outputs:
        if node is None or node.GetScene() is None:
            continue
        item = sh.GetItemByDataNode(node) or sh.CreateItem(sh.GetSceneItemID(), node)
        if sh.GetItemParent(item) != parent:
            sh.SetItemParent(item, parent)
    return parent

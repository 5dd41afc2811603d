"""Speed of the expert-correction loop on real MRML (slicer-core wheel): relabel after one edit.

Target (issue 14): with 150 lesions (one segment each, segment IDs ``lesion_<id>``) in a
1 mm 160 x 192 x 160 volume, the relabel after a reader erased part of one lesion, cut one in
two or deleted one takes
under 1 s: export the segments, apply the logic layer's relabel rule, rewrite only the
changed segments, compute the lesion table of the new labels and keep them as the table's
reference. The lesion table here is the geometry table (``mspathobiology.lesions.lesion_rows``:
volume, centroid, bounding box, long axis). Also printed: how many segments kept their ID and their
segment object, the time to write all 150 lesions into an empty segmentation (after segmenting),
and, for comparison, the full lesion table the module recomputes after a relabel
(``mspathobiology.lesions.analyse`` with ``keep_ids``: FLAIR normalised to white matter, McDonald
locations from an anatomy labelmap or, without one, estimated from the FLAIR).

Run: python benchmarks/relabel_speed.py
"""

import sys
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "MSPathobiology"))

import mspathobiology_mrml as bridge  # noqa: E402
from mspathobiology.lesions import lesion_rows  # noqa: E402
from mspathobiology_mrml import lesion_segments  # noqa: E402

TARGET_S = 1.0
N_LESIONS = 150
SHAPE_KJI = (160, 192, 160)
REPEATS = 6
EDITS = ("erase", "split", "delete")


def lesion_volume(n_lesions=N_LESIONS, shape=SHAPE_KJI, seed=0) -> sitk.Image:
    """``n_lesions`` separate ellipsoids (radii 1.5-6 mm) with ids 1..n, on a 1 mm grid."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, dtype=np.uint32)
    placed = 0
    while placed < n_lesions:
        radii = rng.uniform(1.5, 6.0, 3)
        centre = rng.uniform(15, np.array(shape) - 15)
        lo = np.floor(centre - radii - 1).astype(int)
        hi = np.ceil(centre + radii + 2).astype(int)
        if labels[tuple(slice(a - 2, b + 2) for a, b in zip(lo, hi))].any():
            continue
        k, j, i = np.ogrid[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
        inside = ((k - centre[0]) / radii[0]) ** 2 + ((j - centre[1]) / radii[1]) ** 2 \
            + ((i - centre[2]) / radii[2]) ** 2 <= 1.0
        placed += 1
        labels[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]][inside] = placed
    image = sitk.GetImageFromArray(labels)
    image.SetOrigin((-80.0, -110.0, -70.0))
    return image


def edit(node, kind, lesion, labels_array, matrix):
    """One reader's edit, written as a Segment Editor effect writes it: erase the upper half of a
    lesion ("erase"), erase its middle slices so that it falls in two ("split"), or delete it."""
    import slicer

    if kind == "delete":
        node.GetSegmentation().RemoveSegment(lesion_segments.segment_id(lesion))
        return
    box = tuple(slice(a.min(), a.max() + 1) for a in np.nonzero(labels_array == lesion))
    mask = labels_array[box] == lesion
    middle = mask.shape[0] // 2
    if kind == "erase":
        mask[middle:] = False
    else:
        mask[max(middle - 1, 1):middle + 1] = False
    logic = slicer.vtkSlicerSegmentationsModuleLogic
    ok = logic.SetBinaryLabelmapToSegment(lesion_segments._oriented_mask(mask, box, matrix), node,
                                          lesion_segments.segment_id(lesion), logic.MODE_REPLACE,
                                          lesion_segments._oriented_extent(box))
    assert ok


def full_table(new_labels: sitk.Image, grid: sitk.Image) -> None:
    """Time the full lesion table of the relabelled lesions on a synthetic FLAIR (lesions 60 % brighter)."""
    from mspathobiology import lesions
    from mspathobiology.geometry import image_like

    new_labels.CopyInformation(grid)
    array = sitk.GetArrayViewFromImage(new_labels)
    rng = np.random.default_rng(1)
    flair = image_like((rng.normal(100, 5, array.shape) + 60 * (array > 0)).astype(np.float32), grid)
    k, j, i = np.ogrid[:array.shape[0], :array.shape[1], :array.shape[2]]
    c = np.array(array.shape) / 2
    inside = ((k - c[0]) / 75) ** 2 + ((j - c[1]) / 90) ** 2 + ((i - c[2]) / 75) ** 2 <= 1
    brain = image_like(inside.astype(np.uint8), grid)
    anatomy = image_like(np.where(inside, 2, 0).astype(np.uint32), grid)  # aseg 2 = left cerebral white matter
    for name, extra in (("with an anatomy labelmap", {"anatomy": anatomy}), ("locations estimated from FLAIR", {})):
        start = time.perf_counter()
        result = lesions.analyse({"flair": flair, "lesions": new_labels, "brain_mask": brain, **extra}, keep_ids=True)
        print(f"full lesion table (lesions.analyse keep_ids, {name}): {time.perf_counter() - start:.2f} s, "
              f"{len(result.rows)} rows")


def main() -> int:
    from mspathobiology.geometry import voxel_to_ras

    labels = lesion_volume()
    array = sitk.GetArrayFromImage(labels)
    scene = bridge.new_scene()
    reference = bridge.image_to_volume(scene, labels, "grid", labelmap=True)
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Lesions")
    node.CreateDefaultDisplayNodes()
    start = time.perf_counter()
    lesion_segments.write_lesion_labels(node, labels, reference)
    lesion_segments.store_table_labels(node, labels)
    first_write = time.perf_counter() - start
    segmentation = node.GetSegmentation()
    print(f"{N_LESIONS} lesions, grid {SHAPE_KJI[::-1]} (i, j, k), 1 mm; "
          f"{segmentation.GetNumberOfSegments()} segments, {segmentation.GetNumberOfLayers()} labelmap layer(s)")
    print(f"write all lesions into an empty segmentation: {first_write:.3f} s")
    start = time.perf_counter()
    lesion_segments.relabel(node, reference)  # first call imports scipy.ndimage and the relabel rule
    print(f"first relabel without an edit (imports, warm-up): {time.perf_counter() - start:.3f} s")

    times = []
    for repeat in range(REPEATS):
        lesion = 1 + repeat * 7
        kind = EDITS[repeat % len(EDITS)]
        objects = {i: segmentation.GetSegment(i) for i in segmentation.GetSegmentIDs()}
        edit(node, kind, lesion, array, voxel_to_ras(labels))
        start = time.perf_counter()
        new_labels, report = lesion_segments.relabel(node, reference)
        relabelled = time.perf_counter()
        rows = lesion_rows(sitk.GetArrayViewFromImage(new_labels), new_labels)
        tabled = time.perf_counter()
        lesion_segments.store_table_labels(node, new_labels)
        end = time.perf_counter()
        times.append(end - start)
        same = sum(segmentation.GetSegment(i) is objects[i] for i in segmentation.GetSegmentIDs() if i in objects)
        changes = report["segments"]
        kept = f"kept {len(report['kept'])}, new ids {report['new']}, removed ids {report['removed']}"
        print(f"edit {repeat + 1} ({kind} lesion {lesion}): relabel {end - start:.3f} s "
              f"(segments {relabelled - start:.3f} s, table {tabled - relabelled:.3f} s, keep labels "
              f"{end - tabled:.3f} s); {len(rows)} table rows; ids {kept}; segments unchanged {len(changes['unchanged'])}, "
              f"rewritten {changes['changed']}, added {changes['added']}, removed {changes['removed']}; "
              f"same segment objects {same}/{len(objects)}")
        array = sitk.GetArrayFromImage(new_labels)
    full_table(sitk.GetImageFromArray(array), labels)
    worst = max(times)
    print(f"relabel after one edit at {N_LESIONS} lesions: median {np.median(times):.3f} s, worst {worst:.3f} s "
          f"(target < {TARGET_S:.0f} s): {'PASS' if worst < TARGET_S else 'FAIL'}")
    bridge.release_scene(scene)
    return 0 if worst < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())

"""The MSSlowlyExpandingLesions module outside the Slicer application: its in-Slicer self-test and its
background path run on slicer-core's real MRML, with stand-ins only for what the application alone has
(Qt, the scripted-module base classes, the parameter-node wrapper, slice views)."""

import json
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT

MODULE_SEL = textwrap.dedent("""
    import json, pathlib, subprocess, sys, tempfile, types, unittest, os
    root = pathlib.Path(sys.argv[1])
    sys.path[:0] = [str(root), str(root / "MSSlowlyExpandingLesions")]
    import slicer
    import mspathobiology_mrml as bridge
    slicer.mrmlScene = scene = bridge.new_scene()
    slicer.app = types.SimpleNamespace(temporaryPath=tempfile.mkdtemp(), defaultScenePath=tempfile.mkdtemp(),
                                       layoutManager=lambda: None)
    sys.modules["qt"] = types.ModuleType("qt")
    i18n = types.ModuleType("slicer.i18n"); i18n.tr = lambda text: text; sys.modules["slicer.i18n"] = i18n
    base = types.ModuleType("slicer.ScriptedLoadableModule")
    for name in ("ScriptedLoadableModule", "ScriptedLoadableModuleWidget"):
        setattr(base, name, type(name, (), {}))
    base.ScriptedLoadableModuleLogic = type("ScriptedLoadableModuleLogic", (), {"__init__": lambda self: None})
    base.ScriptedLoadableModuleTest = type("ScriptedLoadableModuleTest", (unittest.TestCase,),
                                           {"delayDisplay": lambda self, text: None})
    base.__all__ = [n for n in dir(base) if n.startswith("Scripted")]
    sys.modules["slicer.ScriptedLoadableModule"] = base
    wrapper = types.ModuleType("slicer.parameterNodeWrapper")
    wrapper.parameterNodeWrapper = lambda cls: cls
    wrapper.Choice = wrapper.WithinRange = lambda *args: None
    sys.modules["slicer.parameterNodeWrapper"] = wrapper
    shown = []
    views = types.ModuleType("MSPathobiologyLib.views")
    views.showVolumes = lambda **kw: shown.append(("volumes", kw["foreground"].GetName()))
    views.showChart = lambda chart: shown.append(("chart", chart.GetNthPlotSeriesNode(0).GetYColumnName()))
    views.centerOn = lambda ras, fov=None: shown.append(("centre", [round(v, 3) for v in ras], fov))
    sys.modules["MSPathobiologyLib.views"] = views
    import MSPathobiologyLib; MSPathobiologyLib.views = views
    import MSSlowlyExpandingLesions as M
    from MSPathobiologyLib import selftest_data

    out = {}
    test = M.MSSlowlyExpandingLesionsTest("test_find_and_rate_candidates")
    test.setUp = scene.Clear
    test.runTest()  # the module's own self-test: analysis, candidates against the truth, rate, undo, resume
    out["selftest_shown"] = shown

    data = selftest_data.sel_data()
    visits = [bridge.image_to_volume(scene, image, f"T1 {n}") for n, image in enumerate(data["visits"])]
    lesions = bridge.label_image_to_segmentation(scene, data["lesions"], reference_volume_node=visits[0])
    mask = bridge.image_to_volume(scene, data["brain_mask"], "mask", labelmap=True)
    flair = [bridge.image_to_volume(scene, image, f"FLAIR {n}") for n, image in enumerate(data["flair"])]
    logic = M.MSSlowlyExpandingLesionsLogic()
    p = types.SimpleNamespace(baselineVolume=visits[0], visit2Volume=visits[1], visit3Volume=visits[2], visit4Volume=None,
                              visit5Volume=None, baselineFlair=flair[0], visit2Flair=flair[1], visit3Flair=None,
                              visit4Flair=None, visit5Flair=None)
    try:
        logic.flairNodes(p)
    except ValueError as exc:
        out["partial_flair"] = str(exc)
    p.visit3Flair = flair[2]
    out["no_flair"] = logic.flairNodes(types.SimpleNamespace(**{k: (None if "Flair" in k else v) for k, v in vars(p).items()}))
    folder, steps = logic.prepareCommands(logic.visitNodes(p), lesions, mask, logic.parseTimes("0, 1, 2", 3),
                                          logic.flairNodes(p))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    child = subprocess.run(steps[0][1], capture_output=True, text=True, env=env)
    out["child"] = [child.returncode, child.stdout[-300:], child.stderr[-2000:]]
    nodes = logic.loadResults(folder, visits[0])
    rows = bridge.table_to_rows(nodes.table)
    out["background"] = {"ids": [r["id"] for r in rows], "candidates": [r["id"] for r in rows if r["sel_candidate"]],
                         "maps": [n.GetName() for n in nodes.logjac], "summary": logic.summaryText(nodes),
                         "flair_mean": [r["flair_mean"] for r in rows], "locations": sorted({r["location"] for r in rows}),
                         "located_by": nodes.result.summary.get("locations"),
                         "truth_sel": data["truth_sel"], "n_lesions": data["n_lesions"]}
    try:
        logic.parseTimes("0, 1", 3)
    except ValueError as exc:
        out["bad_times"] = str(exc)
    print(json.dumps(out))
""")


@pytest.mark.slow
def test_sel_module_self_test_and_background_path_on_slicer_core():
    out = subprocess.run([sys.executable, "-c", MODULE_SEL, str(ROOT / "MSPathobiology")],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-4000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    kinds = [entry[0] for entry in result["selftest_shown"]]
    assert {"volumes", "chart", "centre"} <= set(kinds)  # map over the baseline, curve plotted, views centred
    chart = next(entry for entry in result["selftest_shown"] if entry[0] == "chart")
    assert chart[1].startswith("lesion_")
    assert result["child"][0] == 0, result["child"]
    background = result["background"]
    assert background["ids"] == list(range(1, background["n_lesions"] + 1))
    assert background["candidates"] and set(background["candidates"]) <= set(background["truth_sel"])
    assert background["maps"] == ["SEL logjac_visit-02", "SEL logjac_visit-03"]
    assert f"{len(background['candidates'])} SEL candidates" in background["summary"]
    assert "2 visit times for 3 visits" in result["bad_times"]
    # FLAIR for every visit or none; with it the table has normalised FLAIR and estimated locations
    assert "every visit, or none" in result["partial_flair"] and result["no_flair"] is None
    assert all(value is not None and value > 0 for value in background["flair_mean"])
    assert set(background["locations"]) <= {"periventricular", "juxtacortical", "deep_white_matter",
                                             "infratentorial", "cortical"}


def test_static_checks_catch_a_sel_step_run_by_a_module(tmp_path):
    """The one-orchestration check covers SEL: a module that computes Jacobians itself is flagged."""
    import slicer_static as static

    module = tmp_path / "MSSlowlyExpandingLesions"
    module.mkdir()
    (module / "MSSlowlyExpandingLesions.py").write_text(
        "from mspathobiology import sel\n"
        "from mspathobiology.sel.deformation import register_followup\n"
        "def run(field):\n    return sel.log_jacobian(field)\n")
    problems = static.check_one_orchestration(module)
    assert any("register_followup" in p for p in problems) and any("log_jacobian" in p for p in problems)
    assert static.check_one_orchestration(static.EXTENSION_DIR / "MSSlowlyExpandingLesions") == []

"""Static checks of the Slicer layer (see slicer_static.py), and proof that they bite.

The real modules are checked one by one (the five expected folders are parametrized, so a
missing folder fails instead of passing vacuously); the fixture modules prove that each
check finds what it is meant to find.
"""

import json
import shutil
from pathlib import Path

import pytest

import slicer_static as static

FIXTURES = Path(__file__).resolve().parent / "fixtures"
GOOD = FIXTURES / "GoodModule"
BROKEN = FIXTURES / "BrokenModule"


def _only(problems, *needles):
    """The problems that contain every needle."""
    return [p for p in problems if all(n in p for n in needles)]


# ----------------------------------------------------------------------------- the real extension
def test_all_five_module_folders_exist():
    found = {p.name for p in static.module_dirs()}
    missing = [m for m in static.EXPECTED_MODULES if m not in found]
    assert not missing, f"module folders missing under MSPathobiology/: {missing}"


@pytest.mark.parametrize("module", static.EXPECTED_MODULES)
def test_real_module_passes_static_checks(module):
    folder = static.EXTENSION_DIR / module
    assert folder.is_dir(), f"{folder} does not exist"
    assert static.check_module(folder) == []


def test_top_level_cmake_is_a_slicer_extension():
    assert static.check_top_level_cmake() == []


def test_package_cmake_lists_every_file_of_the_python_packages():
    problems = static.check_package_cmake()
    assert problems == [], ("\n".join(problems) + "\n\nFix: python Testing/Python/slicer_static.py "
                            "--write-package-cmake. Current lists:\n" + static.cmake_listing_text())


def test_package_cmake_writer_output_passes_the_check(tmp_path):
    extension = tmp_path / "MSPathobiology"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in static.PURE_PYTHON_PACKAGES:
        shutil.copytree(static.EXTENSION_DIR / package, extension / package, ignore=ignore)
    (extension / "mspathobiology_mrml" / "added_later.py").write_text("")
    (extension / "CMakeLists.txt").write_text(static.package_cmake_text(extension))
    assert "mspathobiology_mrml/added_later.py" in (extension / "CMakeLists.txt").read_text()
    assert static.check_package_cmake(extension) == []


def test_python_packages_compile_under_python312_rules():
    assert static.check_packages_python312() == []


def test_extensions_index_entry():
    assert static.check_extension_json() == []
    data = json.loads((static.ROOT / "MSPathobiology.json").read_text())
    assert data["category"] == "Neuroimaging" and data["build_dependencies"] == []


def test_license_readme_and_icon():
    assert static.check_extension_files() == []
    assert "BSD 3-Clause" in (static.ROOT / "LICENSE").read_text()


# ----------------------------------------------------------------------------- the checks bite
def test_good_fixture_passes_every_check():
    assert static.check_module(GOOD) == []


def test_broken_fixture_misspelled_widget_name():
    problems = static.check_ui_names(BROKEN)
    assert _only(problems, "BrokenModule.py:", "self.ui.aplyButton", "did you mean 'applyButton'")
    assert not _only(problems, "self.ui.inputSelector")  # the correct name is not reported
    assert len(problems) == 1


def test_broken_fixture_selector_without_scene():
    problems = static.check_ui_scene(BROKEN)
    assert _only(problems, "BrokenModule.ui", "qMRMLNodeComboBox 'inputSelector' never receives the scene")
    assert len(problems) == 1


def test_scene_check_bites_on_each_real_module(tmp_path):
    """Dropping one selector's scene connection from any real module's .ui is reported."""
    import re

    for module in static.EXPECTED_MODULES:
        copy = tmp_path / module
        shutil.copytree(static.EXTENSION_DIR / module, copy, ignore=shutil.ignore_patterns("__pycache__"))
        ui = copy / "Resources" / "UI" / f"{module}.ui"
        text = ui.read_text()
        found = re.search(r"<connection>\s*<sender>\w+</sender>\s*<signal>mrmlSceneChanged\(vtkMRMLScene\*\)</signal>"
                          r"\s*<receiver>(\w+)</receiver>.*?</connection>", text, re.S)
        if found is None:
            assert static.check_ui_scene(copy) == [], module  # no qMRML widget besides the root
            continue
        ui.write_text(text.replace(found.group(0), "", 1))
        assert _only(static.check_ui_scene(copy), f"'{found.group(1)}' never receives the scene"), module


def test_scene_check_follows_nested_qmrml_widgets(tmp_path):
    module = tmp_path / "GoodModule"
    shutil.copytree(GOOD, module)
    ui = module / "Resources" / "UI" / "GoodModule.ui"
    text = ui.read_text()
    # the output selector gets the scene from the input selector, which has it: fine
    ui.write_text(text.replace("<sender>GoodModule</sender>\n   <signal>mrmlSceneChanged(vtkMRMLScene*)</signal>\n"
                               "   <receiver>outputSelector</receiver>",
                               "<sender>inputSelector</sender>\n   <signal>mrmlSceneChanged(vtkMRMLScene*)</signal>\n"
                               "   <receiver>outputSelector</receiver>"))
    assert "<sender>inputSelector</sender>" in ui.read_text()
    assert static.check_ui_scene(module) == []
    py = module / "GoodModule.py"
    py.write_text(py.read_text().replace("uiWidget.setMRMLScene(slicer.mrmlScene)", "pass"))
    problems = static.check_ui_scene(module)
    assert _only(problems, "root widget 'GoodModule'") and _only(problems, "'inputSelector' never receives")


def test_widget_check_follows_shared_library_mixins(tmp_path):
    """A widget named only in a shared-library mixin (the reading panel) must exist in each inheriting module's .ui."""
    module = tmp_path / "MSSlowlyExpandingLesions"
    shutil.copytree(static.EXTENSION_DIR / module.name, module, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(static.EXTENSION_DIR / "MSPathobiologyLib", tmp_path / "MSPathobiologyLib",
                    ignore=shutil.ignore_patterns("__pycache__"))
    assert "readingProgressBar" not in (module / f"{module.name}.py").read_text()
    assert static.check_ui_names(module) == []
    ui = module / "Resources" / "UI" / f"{module.name}.ui"
    ui.write_text(ui.read_text().replace('name="readingProgressBar"', 'name="readingProgress"'))
    problems = static.check_ui_names(module)
    assert _only(problems, "inherits LesionReadingMixin", "reading.py", "self.ui.readingProgressBar")


def test_broken_fixture_unbound_parameter():
    problems = static.check_parameter_bindings(BROKEN)
    assert problems and _only(problems, "'thresholdd'", "thresholdSlider", "not a field")
    assert not _only(problems, "SlicerParameterName 'inputVolume'")
    assert len(problems) == 1


def test_broken_fixture_cmake_listing():
    problems = static.check_module_cmake(BROKEN)
    assert _only(problems, "BrokenModuleLib/unlisted.py", "not listed in SCRIPTS")
    assert _only(problems, "Resources/Icons/BrokenModule.png", "not listed in RESOURCES")
    assert _only(problems, "Resources/UI/Missing.ui", "does not exist")
    assert _only(problems, "slicer_add_python_unittest")
    assert len(problems) == 4


def test_broken_fixture_ui_does_not_parse():
    problems = static.check_ui_parse(BROKEN)
    assert problems == [p for p in problems if "BrokenModuleOptions.ui" in p and "does not parse" in p]
    assert len(problems) == 1


def test_broken_fixture_python312_syntax_warning_is_an_error():
    problems = static.check_python312(BROKEN)
    assert _only(problems, "BrokenModule.py", "invalid escape sequence")
    assert len(problems) == 1


def test_python312_check_falls_back_to_this_interpreter(monkeypatch):
    monkeypatch.setattr(static, "python312", lambda: None)
    assert _only(static.check_python312(BROKEN), "BrokenModule.py", "invalid escape sequence")
    assert static.check_python312(GOOD) == []


def test_python312_interpreter_is_used_when_present():
    interpreter = static.python312()
    if interpreter is None:
        pytest.skip("no Python 3.12 interpreter on this machine (the fallback test covers compile())")
    errors, used = static.compile_problems(static.python_files(BROKEN))
    assert used == interpreter and len(errors) == 1


def test_broken_fixture_forbidden_forms():
    problems = static.check_forbidden_forms(BROKEN)
    assert _only(problems, "import imp")
    assert _only(problems, "returnNode=")
    assert _only(problems, "setMasterVolumeNode", "setSourceVolumeNode")
    assert len(problems) == 3


def test_broken_fixture_gui_call_in_logic():
    problems = static.check_logic_without_gui(BROKEN)
    assert _only(problems, "BrokenModuleLogic uses setSliceViewerLayers")
    assert len(problems) == 1
    assert static.check_logic_without_gui(GOOD) == []


def test_choice_label_check_bites(tmp_path):
    """Dropping one readable text from a real module's choiceLabels is reported."""
    module = tmp_path / "MSNetworks"
    shutil.copytree(static.EXTENSION_DIR / "MSNetworks", module, ignore=shutil.ignore_patterns("__pycache__"))
    assert static.check_choice_labels(module) == []
    py = module / "MSNetworks.py"
    text = py.read_text()
    assert '"invnodevol": ' in text
    py.write_text(text.replace('"invnodevol": ', '"inv_node_vol": ', 1))
    assert _only(static.check_choice_labels(module), "'weightComboBox'", "['invnodevol']")
    py.write_text(text.replace("choiceLabels = {", "unusedLabels = {", 1))
    problems = static.check_choice_labels(module)
    assert _only(problems, "'assignmentComboBox'") and _only(problems, "'weightComboBox'")


def test_case_registration_check_bites(tmp_path):
    lesions = tmp_path / "MSLesions"
    shutil.copytree(static.EXTENSION_DIR / "MSLesions", lesions, ignore=shutil.ignore_patterns("__pycache__"))
    py = lesions / "MSLesions.py"
    text = py.read_text()
    registered = '"t1PostVolume": "t1post", "anatomyVolume"'
    assert registered in text and static.check_case_registration(lesions) == []
    py.write_text(text.replace(registered, '"t1PostVolumeNode": "t1post", "anatomyVolume"', 1))
    assert _only(static.check_case_registration(lesions), "'t1PostVolumeNode'", "not a parameter-node field")
    review = tmp_path / "MSCaseReview"
    shutil.copytree(static.EXTENSION_DIR / "MSCaseReview", review, ignore=shutil.ignore_patterns("__pycache__"))
    assert static.check_case_registration(review) == []
    py = review / "MSCaseReview.py"
    py.write_text(py.read_text() + "\n\ndef lesionsParameters():\n    from MSLesions import MSLesionsLogic\n"
                  "    return MSLesionsLogic().getParameterNode()\n")
    assert _only(static.check_case_registration(review), "imports the module MSLesions", "case registry")


def test_one_orchestration_check_bites(tmp_path):
    """Re-doing a step of the networks analysis in the module (as MSNetworks once did) is reported."""
    module = tmp_path / "MSNetworks"
    shutil.copytree(static.EXTENSION_DIR / "MSNetworks", module, ignore=shutil.ignore_patterns("__pycache__"))
    assert static.check_one_orchestration(module) == []
    py = module / "MSNetworks.py"
    py.write_text(py.read_text() + "\n\ndef redo(streamlines, parcellation, lesions):\n"
                  "    from mspathobiology import networks\n"
                  "    found = networks.disconnection(streamlines, parcellation, None, lesions)\n"
                  "    return networks.network_disruption(found['matrix'], found['lesioned'], found['row_labels'])\n")
    problems = static.check_one_orchestration(module)
    assert _only(problems, "disconnection is a step") and _only(problems, "network_disruption is a step")


def test_broken_fixture_missing_test_class():
    problems = static.check_module_classes(BROKEN)
    assert problems == [p for p in problems if "BrokenModuleTest is missing" in p] and problems


def test_every_broken_fixture_mistake_is_found_once_by_check_module():
    problems = static.check_module(BROKEN)
    assert len(problems) == 14, "\n".join(problems)


def test_self_test_check_bites(tmp_path):
    module = tmp_path / "GoodModule"
    shutil.copytree(GOOD, module)
    py = module / "GoodModule.py"
    py.write_text(py.read_text().replace(
        "        self.test_threshold()\n",
        "        import SampleData\n        SampleData.downloadSample('MRHead')\n"))
    problems = static.check_self_test(module)
    assert _only(problems, "runTest does not call its test_* methods")
    assert _only(problems, "uses SampleData", "not download")
    assert _only(problems, "uses downloadSample")


def test_widget_check_sees_layouts_and_ui_root_names(tmp_path):
    module = tmp_path / "Probe"
    shutil.copytree(GOOD, module)
    (module / "GoodModule.py").rename(module / "Probe.py")
    text = (module / "Probe.py").read_text()
    extra = ("\n\ndef extra(self):\n    return self.ui.formLayout, self.ui.GoodModule, self.ui.nope\n"
             "\n\ndef loops(self):\n"
             "    for name in ('applyButton', 'invertCheckBox', 'missingButton'):\n"
             "        getattr(self.ui, name).enabled = True\n"
             "    getattr(self.ui, 'outputSelector').enabled = True\n"
             "    getattr(self.ui, 'outputSelektor').enabled = True\n"
             "    for i in range(2):\n"
             "        getattr(self.ui, f'input{i}Label').text = ''\n"
             "        getattr(self.ui, f'threshold{i}').text = ''\n")
    (module / "Probe.py").write_text(text + extra)
    problems = static.check_ui_names(module)
    assert _only(problems, "self.ui.nope")
    assert _only(problems, "self.ui.missingButton")
    assert _only(problems, "self.ui.outputSelektor", "did you mean 'outputSelector'")
    assert _only(problems, "f-string", "input")
    assert len(problems) == 4, problems


def test_nested_parameter_pack_bindings(tmp_path):
    module = tmp_path / "GoodModule"
    shutil.copytree(GOOD, module)
    py = module / "GoodModule.py"
    py.write_text(py.read_text().replace(
        "@parameterNodeWrapper\nclass GoodModuleParameterNode:\n",
        "@parameterPack\nclass Limits:\n    low: float = 0\n\n\n"
        "@parameterNodeWrapper\nclass GoodModuleParameterNode:\n    limits: Limits\n"))
    ui = module / "Resources" / "UI" / "GoodModule.ui"
    ui.write_text(ui.read_text().replace("<string>invert</string>", "<string>limits.low</string>", 1))
    assert static.check_parameter_bindings(module) == []
    ui.write_text(ui.read_text().replace("<string>limits.low</string>", "<string>limits.high</string>", 1))
    assert _only(static.check_parameter_bindings(module), "'limits.high'", "parameter pack of 'limits'")


def test_top_level_cmake_check_bites(tmp_path):
    text = (static.ROOT / "CMakeLists.txt").read_text()
    for module in static.EXPECTED_MODULES:
        (tmp_path / "MSPathobiology" / module).mkdir(parents=True)
        (tmp_path / "MSPathobiology" / module / "CMakeLists.txt").write_text("")
    (tmp_path / "MSPathobiology" / "CMakeLists.txt").write_text("")
    (tmp_path / "CMakeLists.txt").write_text(text)
    assert static.check_top_level_cmake(tmp_path) == []
    broken = (text.replace("add_subdirectory(MSPathobiology/MSNetworks)\n", "")
              .replace('set(EXTENSION_CATEGORY "Neuroimaging")', 'set(EXTENSION_CATEGORY "Examples")')
              .replace("include(${Slicer_EXTENSION_CPACK})", ""))
    (tmp_path / "CMakeLists.txt").write_text(broken)
    problems = static.check_top_level_cmake(tmp_path)
    assert _only(problems, "add_subdirectory(MSPathobiology/MSNetworks)")
    assert _only(problems, "module folder MSPathobiology/MSNetworks")
    assert _only(problems, "EXTENSION_CATEGORY")
    assert _only(problems, "Slicer_EXTENSION_CPACK")


def test_package_cmake_check_bites(tmp_path):
    extension = tmp_path / "MSPathobiology"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in static.PURE_PYTHON_PACKAGES:
        shutil.copytree(static.EXTENSION_DIR / package, extension / package, ignore=ignore)
    shutil.copy(static.EXTENSION_DIR / "CMakeLists.txt", extension / "CMakeLists.txt")
    before = static.check_package_cmake(extension)
    (extension / "mspathobiology_mrml" / "new_helper.py").write_text("")
    (extension / "mspathobiology_mrml" / "data.json").write_text("{}")
    listed = sorted(static.package_cmake_lists(extension)["mspathobiology"][0])[0]
    (extension / listed).unlink()
    problems = static.check_package_cmake(extension)
    assert _only(problems, "mspathobiology_mrml/new_helper.py", "SCRIPTS")
    assert _only(problems, "mspathobiology_mrml/data.json", "RESOURCES")
    assert _only(problems, listed, "does not exist")
    assert len(problems) == len(before) + 3


def test_extension_json_check_bites(tmp_path):
    data = json.loads((static.ROOT / "MSPathobiology.json").read_text())
    data.update(category="Examples", build_dependencies=["SlicerDMRI"], homepage="x",
                scm_url="https://github.com/MSPathobiology/MSPathobiology.git")
    del data["$schema"]
    (tmp_path / "MSPathobiology.json").write_text(json.dumps(data))
    problems = static.check_extension_json(tmp_path)
    for needle in ("'$schema' missing", "category", "build_dependencies", "'homepage' is not in the schema",
                   "should start with 'Slicer'"):
        assert _only(problems, needle), needle


def test_cmake_parser_expands_variables_lists_and_comments(tmp_path):
    cmake = tmp_path / "CMakeLists.txt"
    cmake.write_text('set(A x.py "y z.py") # comment ( with parens\n'
                     'set(B ${A} w) \n#[[ block\n comment ]]\nfoo(${B} "${A}" [[raw]])\n')
    calls, variables = static.cmake_calls(cmake)
    assert variables["B"] == ["x.py", "y z.py", "w"]
    assert calls[-1] == ("foo", ["x.py", "y z.py", "w", "x.py;y z.py", "[[raw]]"])


# ----------------------------------------------------------------------------- CMake itself
def test_extension_configures_with_cmake_against_a_stub_slicer(tmp_path):
    """Run the real CMake code (top level, packages, modules) with a stand-in Slicer: every
    macro call is well formed, every listed file exists, every module registers its self-test."""
    import subprocess

    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.skip("cmake is not installed")
    source = tmp_path / "src"
    source.mkdir()
    text = (static.ROOT / "CMakeLists.txt").read_text()
    # The local CMake may be older than Slicer 5.12's 3.28 floor, and no compiler is needed here.
    text = text.replace("VERSION 3.28.0...3.28.0", "VERSION 3.16").replace(
        "project(MSPathobiology)", "project(MSPathobiology LANGUAGES NONE)")
    (source / "CMakeLists.txt").write_text(text)
    (source / "MSPathobiology").symlink_to(static.EXTENSION_DIR, target_is_directory=True)
    build = tmp_path / "build"
    run = subprocess.run([cmake, "-S", str(source), "-B", str(build), f"-DSlicer_DIR={FIXTURES / 'SlicerStub'}"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    installed = set((build / "installed-files.txt").read_text().split())
    lib = "lib/Slicer-5.12/qt-scripted-modules"
    for package, (py, other) in static.package_cmake_lists().items():
        assert {f"{lib}/{p}" for p in py + other} <= installed, package
    for module in static.EXPECTED_MODULES:
        assert f"{lib}/{module}.py" in installed
        assert f"{lib}/Resources/UI/{module}.ui" in installed
    assert sorted((build / "unittests.txt").read_text().split()) == sorted(f"{m}.py" for m in static.EXPECTED_MODULES)
    assert (build / "extension.txt").read_text().split("\n")[:3] == ["MSPathobiology", "Neuroimaging", "NA"]

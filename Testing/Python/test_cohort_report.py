"""HTML reports: pages link real PNG renderings of the data; the cohort page lists every case."""

import re
from pathlib import Path

import matplotlib.image as mpimg
import pytest

from mspathobiology.cohort.report import choose_slices, find_matrix, lesion_mosaic, write_reports
from mspathobiology.cohort.runner import run_cohort
from mspathobiology.errors import InputError
from mspathobiology.io import write_image
from test_cohort_runner import PLUGINS, _blobs_image, make_dataset  # noqa: F401 (plug-in analyses)


@pytest.fixture
def run_out(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent))
    ds = make_dataset(tmp_path / "ds")
    out = tmp_path / "out"
    run_cohort(ds, out, functions=PLUGINS, progress=False)
    return out


def _yellow(png):
    rgb = mpimg.imread(png)[..., :3]
    return (rgb[..., 0] > 0.8) & (rgb[..., 1] > 0.8) & (rgb[..., 2] < 0.3)


def test_reports_link_real_pictures(run_out):
    index = write_reports(run_out)
    page = index.read_text()
    for case in ("sub-01_ses-01", "sub-02_ses-02"):
        assert f"href='{case}.html'" in page
    for src in re.findall(r"<img src='([^']+)'", page):
        assert (index.parent / src).stat().st_size > 1000
    case_page = (index.parent / "sub-01_ses-02.html").read_text()
    images = re.findall(r"<img src='([^']+)'", case_page)
    assert "sub-01_ses-02/lesion_mosaic.png" in images
    mosaic = index.parent / "sub-01_ses-02/lesion_mosaic.png"
    assert _yellow(mosaic).sum() > 200  # lesion outlines drawn
    assert "lesion_count" in case_page and "<table>" in case_page
    # the cohort page holds the values of the cohort table
    assert "sub-02" in page and "BPF" in page
    _check_content_security_policy(index)


def test_mosaic_follows_the_data(tmp_path):
    flair = _blobs_image(3)
    write_image(flair, tmp_path / "flair.nii.gz")
    empty = _blobs_image(0)
    write_image(empty, tmp_path / "none.nii.gz")
    import SimpleITK as sitk

    labels = sitk.Cast(sitk.BinaryThreshold(flair, 0.5, 2.0), sitk.sitkUInt8)
    write_image(labels, tmp_path / "labels.nii.gz")
    with_lesions = lesion_mosaic(tmp_path / "flair.nii.gz", tmp_path / "labels.nii.gz", tmp_path / "a.png")
    without = lesion_mosaic(tmp_path / "flair.nii.gz", tmp_path / "none.nii.gz", tmp_path / "b.png")
    assert _yellow(with_lesions).sum() > 100 and _yellow(without).sum() == 0
    array = sitk.GetArrayFromImage(labels)
    chosen = choose_slices(array, sitk.GetArrayFromImage(flair), 12)
    assert chosen and all(array[k].any() for k in chosen)
    with pytest.raises(InputError):
        lesion_mosaic(tmp_path / "missing.nii.gz", None, tmp_path / "c.png")


def test_connectome_matrix_is_read_from_network_csv(tmp_path):
    folder = tmp_path / "network"
    folder.mkdir()
    (folder / "connectome.csv").write_text("label,10,20,30\n10,0,2,1\n20,2,0,5\n30,1,5,0\n")
    matrix = find_matrix(folder)
    assert matrix.tolist() == [[0, 2, 1], [2, 0, 5], [1, 5, 0]]


def test_report_needs_a_run(tmp_path):
    with pytest.raises(InputError, match="cohort.tsv"):
        write_reports(tmp_path)


# --------------------------------------------------------------------------- issue 13 and 15
HOSTILE_SUB = "<svg onload=alert(1)>"
HOSTILE_SES = "'\"><img src=x onerror=alert(2)>"
HOSTILE_TEXT = "<script>alert(3)</script>"
ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "p", "a", "h1", "h2", "h3", "table", "tr", "th",
                "td", "div", "img"}


def plugin_hostile_lesions(images, out_dir, **_):
    from test_cohort_runner import plugin_lesions

    summary = plugin_lesions(images, out_dir)
    from mspathobiology.tables import write_table

    write_table([{HOSTILE_TEXT: HOSTILE_TEXT, "id": 1}], Path(out_dir) / f"{HOSTILE_SES}.tsv")
    return {**summary, "note": HOSTILE_TEXT, HOSTILE_TEXT: 1.5}


def plugin_hostile_failure(images, out_dir, **_):
    raise ValueError(f"bad input {HOSTILE_TEXT}")


def plugin_precise(images, out_dir, **_):
    from mspathobiology.tables import write_table

    if Path(out_dir).name == "atrophy":
        write_table([{"region": "left", "volume_ml": 612.3456789, "method": "none (cross-sectional volume)"},
                     {"region": "right", "volume_ml": 600.0049, "method": "none (cross-sectional volume)"}],
                    Path(out_dir) / "volumes.tsv")
    return {"lesion_volume_mm3": 12375.999999999998, "bpf": 0.712345678, "gm_ml": 612.3456789,
            "pbvc_percent": -1.23456}


def plugin_fails(images, out_dir, **_):
    raise RuntimeError("segmentation diverged")


class _PageCheck:
    """Tags, attributes and text of an HTML page (html.parser, the standard library's)."""

    def __init__(self, text):
        from html.parser import HTMLParser

        self.tags, self.attrs, self.text = set(), [], []
        check = self

        class Parser(HTMLParser):
            def handle_starttag(self, tag, attrs):
                check.tags.add(tag)
                check.attrs.extend(attrs)

            def handle_data(self, data):
                check.text.append(data)

        Parser().feed(text)


def _write_hostile_dataset(root):
    import SimpleITK as sitk

    anat = root / f"sub-{HOSTILE_SUB}" / f"ses-{HOSTILE_SES}" / "anat"
    anat.mkdir(parents=True)
    stem = f"sub-{HOSTILE_SUB}_ses-{HOSTILE_SES}"
    write_image(_blobs_image(2), anat / f"{stem}_FLAIR.nii.gz")
    t1 = sitk.Cast(_blobs_image(1) + 1.0, sitk.sitkFloat32)
    write_image(t1, anat / f"{stem}_T1w.nii.gz")
    (root / "dataset_description.json").write_text('{"Name": "hostile", "BIDSVersion": "1.9.0"}')
    return root


def test_hostile_names_in_every_field_are_shown_as_text(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent))
    ds = _write_hostile_dataset(tmp_path / "ds")
    out = tmp_path / "out"
    result = run_cohort(ds, out, progress=False, functions={
        "lesions": "test_cohort_report:plugin_hostile_lesions", "atrophy": "test_cohort_report:plugin_hostile_failure",
        "rims": "test_cohort_report:plugin_hostile_failure"})
    assert result.cases[0].subject == HOSTILE_SUB and result.failed  # the error text carries the hostile string
    index = write_reports(out)
    pages = [index] + sorted(index.parent.glob("*.html"))
    assert len(pages) == 3
    for page in pages:
        text = page.read_text()
        check = _PageCheck(text)
        assert check.tags <= ALLOWED_TAGS, (page.name, check.tags - ALLOWED_TAGS)
        assert not [name for name, _ in check.attrs if name.startswith("on")], page.name
        for name, value in check.attrs:
            if name in ("href", "src"):
                assert not value.lower().startswith(("javascript:", "data:", "http:", "https:", "//")), value
                if name == "src":
                    assert (page.parent / __import__("urllib.parse").parse.unquote(value)).is_file(), value
        shown = "".join(check.text)
        if page.name != "index.html":
            assert HOSTILE_TEXT in shown and HOSTILE_SUB in shown  # shown as text, not run
    case_page = next(p for p in pages if p.name != "index.html")
    assert "bad input" in case_page.read_text()


def _check_content_security_policy(index):
    import base64
    import hashlib
    import html as html_module

    for page in [index, index.parent / "sub-01_ses-02.html"]:
        text = page.read_text()
        policy = html_module.unescape(re.search(r"http-equiv='Content-Security-Policy' content=\"([^\"]+)\"",
                                                text).group(1))
        assert "default-src 'none'" in policy and "script-src 'none'" in policy and "unsafe" not in policy
        css = re.search(r"<style>(.*?)</style>", text, re.S).group(1)
        digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
        assert f"style-src 'sha256-{digest}'" in policy  # the page's own style sheet, and nothing else
        assert " style=" not in text and "<script" not in text


def test_numbers_are_rounded_alike_in_tsv_and_html_and_links_name_the_session(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent))
    ds = make_dataset(tmp_path / "ds", subjects=("01",))
    out = tmp_path / "out"
    run_cohort(ds, out, progress=False, only="lesions,atrophy",
               functions={"lesions": "test_cohort_report:plugin_precise", "atrophy": "test_cohort_report:plugin_precise",
                          "lesion_change": "test_cohort_runner:plugin_change"})
    from mspathobiology.tables import read_table

    raw = (out / "cohort.tsv").read_text()
    assert "12375.999" not in raw and "12376.0" in raw and "0.7123\t" in raw and "612.35" in raw
    row = read_table(out / "cohort.tsv")[0]
    assert row["lesion_volume_mm3"] == 12376.0 and row["bpf"] == 0.7123 and row["gm_ml"] == 612.35
    index = write_reports(out)
    page = index.read_text()
    assert "12376.0" in page and "0.7123" in page and "e+0" not in page
    assert ">sub-01 ses-01</a>" in page and ">sub-01 ses-02</a>" in page  # each link names its session
    assert "href='../cohort.tsv' download" in page  # the full table as a download
    check = _PageCheck(page)
    header = [t for t in check.text if t.strip()]
    assert "T2 lesion volume (mm³)" in header and "BPF (fraction)" in header
    case_page = (index.parent / "sub-01_ses-01.html").read_text()
    assert case_page.count("none (cross-sectional volume)") == 1  # a constant column is stated once
    assert "612.35" in case_page and "612.3456" not in case_page


def test_a_failed_rerun_leaves_its_old_outputs_stale_and_out_of_the_report(tmp_path, monkeypatch):
    import os

    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent))
    ds = make_dataset(tmp_path / "ds", subjects=("01",), sessions=("01",))
    out = tmp_path / "out"
    plugins = {"lesions": "test_cohort_runner:plugin_lesions", "atrophy": "test_cohort_report:plugin_precise"}
    run_cohort(ds, out, progress=False, only="lesions,atrophy", functions=plugins)
    page = (write_reports(out).parent / "sub-01_ses-01.html").read_text()
    assert "volumes.tsv" in page and "612.35" in page
    t1 = next((ds / "sub-01/ses-01/anat").glob("*T1w.nii.gz"))
    os.utime(t1, ns=(t1.stat().st_atime_ns, t1.stat().st_mtime_ns + 10**9))  # a changed input: atrophy reruns
    result = run_cohort(ds, out, progress=False, only="lesions,atrophy",
                        functions={**plugins, "atrophy": "test_cohort_report:plugin_fails"})
    assert [r["analysis"] for r in result.failed] == ["atrophy"]
    folder = out / "sub-01/ses-01/atrophy"
    assert not (folder / "done.json").exists() and (folder / "volumes.tsv").exists()
    from mspathobiology.io import read_json

    assert read_json(folder / "stale.json")["stale_files"] == ["volumes.tsv"]
    from mspathobiology.tables import read_table

    assert read_table(out / "cohort.tsv")[0].get("bpf") is None
    page = (write_reports(out).parent / "sub-01_ses-01.html").read_text()
    assert "volumes.tsv" not in page and "612.35" not in page and "segmentation diverged" in page


def test_each_subject_gets_its_own_line_style():
    from mspathobiology.cohort.report import _style

    styles = [(s["marker"], s["linestyle"]) for s in (_style(i) for i in range(20))]
    assert len(set(styles)) == 20  # up to 20 subjects, no two drawn alike
    assert len({m for m, _ in styles[:10]}) == 10 and len({ls for _, ls in styles[:4]}) == 4

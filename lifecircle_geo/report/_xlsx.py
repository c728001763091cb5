"""A small streaming ``.xlsx`` writer: column-wise XML, shared styles, print setup.

openpyxl (pure-Python XML, one object per cell) and XlsxWriter both spend most of their time
per cell; a city-scale coverage table has millions. This writer builds each column's cell XML
with vectorised string operations, streams rows into the zip member and shares one style record
per combination of number format, fill, font and wrapping. It writes only what the project list
needs: numbers and text (text is always an inline *string*: never a formula, whatever its first
character), column widths, row heights, a frozen header row, an auto filter, and the print setup
(paper size, orientation, fit to width, repeated title row, margins, page footer).

Examples
--------
>>> import numpy as np
>>> book = XlsxBook(tmp_path / "t.xlsx")
>>> s = book.style(number_format="0.0%")
>>> sheet = book.add_sheet("表 Sheet", widths=[10, 12], head_row=1, n_rows=2)
>>> sheet.write_rows(np.array([["名称 / Name", "覆盖率 / Share"]], dtype=object),
...                  np.array([[book.style(bold=True)] * 2]))
>>> sheet.write_rows(np.array([["=2+2", 0.5]], dtype=object), np.array([[0, s]]))
>>> book.close()
>>> import openpyxl
>>> ws = openpyxl.load_workbook(tmp_path / "t.xlsx")["表 Sheet"]
>>> ws["A2"].value, ws["A2"].data_type, ws["B2"].number_format, ws.freeze_panes
('=2+2', 's', '0.0%', 'A2')
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Sequence
from html import escape
from typing import Any

import numpy as np
from openpyxl.utils import get_column_letter

__all__ = ["XlsxBook", "XlsxSheet"]

_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_BUILTIN_FORMATS = {"General": 0, "0": 1, "0.00": 2, "#,##0": 3, "#,##0.00": 4, "0%": 9}
_CHUNK_ROWS = 2000
_FONT = '<font>{}<sz val="11"/><name val="Calibri"/><family val="2"/></font>'


_INLINE_OPEN = ' t="inlineStr"><is><t xml:space="preserve">'
_NEEDS_ESCAPE = re.compile(r"[&<>\r]")


def _xml_text(value: str) -> str:
    # &#13; survives XML end-of-line normalisation (a raw CR would be read back as LF)
    return escape(value, quote=False).replace("\r", "&#13;")


def _attr(value: str) -> str:
    return escape(value, quote=True).replace("\r", "&#13;").replace("\n", "&#10;")


class XlsxBook:
    """An ``.xlsx`` file written sheet by sheet; call :meth:`close` to finish it.

    Parameters
    ----------
    path : str or path-like
        Output file.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)
        self._sheets: list[XlsxSheet] = []
        self._formats: dict[str, int] = {}
        self._fonts: list[str] = [
            '<font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
        ]
        self._fills: list[str] = [
            '<fill><patternFill patternType="none"/></fill>',
            '<fill><patternFill patternType="gray125"/></fill>',
        ]
        self._borders: list[str] = ["<border><left/><right/><top/><bottom/><diagonal/></border>"]
        self._xfs: list[str] = ['<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>']
        self._styles: dict[tuple, int] = {}
        self._open: XlsxSheet | None = None

    # ------------------------------------------------------------------ styles
    def style(
        self,
        *,
        number_format: str | None = None,
        bold: bool = False,
        colour: str | None = None,
        fill: str | None = None,
        wrap: bool = False,
        centre: bool = False,
        top: bool = False,
        bottom_border: str | None = None,
    ) -> int:
        """Return the id of a cell style (shared by every cell that uses it).

        Parameters
        ----------
        number_format : str, optional
            Excel number format, e.g. ``"0.0%"``.
        bold : bool, default False
            Bold font.
        colour : str, optional
            Font colour, ``"RRGGBB"``.
        fill : str, optional
            Solid fill colour, ``"RRGGBB"``.
        wrap : bool, default False
            Wrap text, aligned to the top.
        centre : bool, default False
            Centred horizontally and vertically (with ``wrap``: header cells).
        top : bool, default False
            Aligned to the top of the cell (rows of different heights read across).
        bottom_border : str, optional
            Colour of a thin bottom border.

        Returns
        -------
        int
            The style id for :meth:`XlsxSheet.write_rows`.
        """
        key = (number_format, bold, colour, fill, wrap, centre, top, bottom_border)
        if key in self._styles:
            return self._styles[key]
        fmt = 0
        if number_format:
            fmt = _BUILTIN_FORMATS.get(number_format) or self._formats.setdefault(
                number_format, 164 + len(self._formats)
            )
        font_id = 0
        if bold or colour:
            font = (
                "<font>"
                + ("<b/>" if bold else "")
                + '<sz val="11"/>'
                + (f'<color rgb="FF{colour}"/>' if colour else "")
                + '<name val="Calibri"/><family val="2"/></font>'
            )
            font_id = self._index(self._fonts, font)
        fill_id = 0
        if fill:
            fill_id = self._index(
                self._fills,
                f'<fill><patternFill patternType="solid"><fgColor rgb="FF{fill}"/>'
                '<bgColor indexed="64"/></patternFill></fill>',
            )
        border_id = 0
        if bottom_border:
            border_id = self._index(
                self._borders,
                "<border><left/><right/><top/>"
                f'<bottom style="thin"><color rgb="FF{bottom_border}"/></bottom>'
                "<diagonal/></border>",
            )
        align = ""
        if wrap or centre or top:
            attrs = ' wrapText="1"' if wrap else ""
            attrs += ' horizontal="center" vertical="center"' if centre else ' vertical="top"'
            align = f"<alignment{attrs}/>"
        xf = (
            f'<xf numFmtId="{fmt}" fontId="{font_id}" fillId="{fill_id}" borderId="{border_id}"'
            ' xfId="0"'
            + (' applyNumberFormat="1"' if fmt else "")
            + (' applyFont="1"' if font_id else "")
            + (' applyFill="1"' if fill_id else "")
            + (' applyBorder="1"' if border_id else "")
            + (f' applyAlignment="1">{align}</xf>' if align else "/>")
        )
        self._xfs.append(xf)
        self._styles[key] = len(self._xfs) - 1
        return self._styles[key]

    @staticmethod
    def _index(items: list[str], item: str) -> int:
        if item not in items:
            items.append(item)
        return items.index(item)

    # ------------------------------------------------------------------ sheets
    def add_sheet(
        self,
        name: str,
        widths: Sequence[float],
        *,
        head_row: int | None = 1,
        n_rows: int = 0,
        paper_size: int = 8,
        landscape: bool = True,
        grid_lines: bool = True,
    ) -> XlsxSheet:
        """Start a sheet (the previous one is finished); rows are then written in order.

        Parameters
        ----------
        name : str
            Sheet name (at most 31 characters, none of ``[]:*?/\\``).
        widths : sequence of float
            Column widths in characters.
        head_row : int or None, default 1
            The header row (1-based): frozen, repeated on every printed page, filtered over
            ``n_rows`` rows below it. None: no header.
        n_rows : int, default 0
            Body rows below the header covered by the auto filter.
        paper_size : int, default 8
            OOXML paper size (8: A3, 9: A4).
        landscape : bool, default True
            Orientation.
        grid_lines : bool, default True
            Print the cell grid.

        Returns
        -------
        XlsxSheet
        """
        self._finish_sheet()
        index = len(self._sheets) + 1
        sheet = XlsxSheet(self, name, index, list(widths), head_row, n_rows)
        sheet._paper, sheet._landscape, sheet._grid = paper_size, landscape, grid_lines
        self._sheets.append(sheet)
        self._open = sheet
        sheet._start()
        return sheet

    def _finish_sheet(self) -> None:
        if self._open is not None:
            self._open._finish()
            self._open = None

    # ------------------------------------------------------------------ close
    def close(self) -> None:
        """Finish the last sheet and write the workbook, styles and package parts."""
        self._finish_sheet()
        if not self._sheets:
            self.add_sheet("Sheet1", [], head_row=None)
            self._finish_sheet()
        z = self._zip
        sheets = "".join(
            f'<sheet name="{_attr(s.name)}" sheetId="{s.index}" r:id="rId{s.index}"/>'
            for s in self._sheets
        )
        names = "".join(
            f'<definedName name="_xlnm.Print_Titles" localSheetId="{s.index - 1}">'
            f"'{_attr(s.name.replace(chr(39), chr(39) * 2))}'!${s.head_row}:${s.head_row}"
            "</definedName>"
            for s in self._sheets
            if s.head_row
        )
        z.writestr(
            "xl/workbook.xml",
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<workbook xmlns="{_NS}" xmlns:r="{_NS_R}">'
            '<bookViews><workbookView activeTab="0"/></bookViews>'
            f"<sheets>{sheets}</sheets>"
            + (f"<definedNames>{names}</definedNames>" if names else "")
            + "</workbook>",
        )
        n = len(self._sheets)
        rels = "".join(
            f'<Relationship Id="rId{s.index}" Type="{_NS_R}/worksheet" '
            f'Target="worksheets/sheet{s.index}.xml"/>'
            for s in self._sheets
        )
        rels += f'<Relationship Id="rId{n + 1}" Type="{_NS_R}/styles" Target="styles.xml"/>'
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f"{rels}</Relationships>",
        )
        z.writestr("xl/styles.xml", self._styles_xml())
        z.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{_NS_R}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>",
        )
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{s.index}.xml" '
            f'ContentType="{_CT}.worksheet+xml"/>'
            for s in self._sheets
        )
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/>'
            f"{overrides}</Types>",
        )
        z.close()

    def _styles_xml(self) -> str:
        fmts = "".join(
            f'<numFmt numFmtId="{i}" formatCode="{_attr(code)}"/>'
            for code, i in self._formats.items()
        )
        return (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<styleSheet xmlns="{_NS}">'
            + (f'<numFmts count="{len(self._formats)}">{fmts}</numFmts>' if fmts else "")
            + f'<fonts count="{len(self._fonts)}">{"".join(self._fonts)}</fonts>'
            f'<fills count="{len(self._fills)}">{"".join(self._fills)}</fills>'
            f'<borders count="{len(self._borders)}">{"".join(self._borders)}</borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
            "</cellStyleXfs>"
            f'<cellXfs count="{len(self._xfs)}">{"".join(self._xfs)}</cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
            "</styleSheet>"
        )


class XlsxSheet:
    """One sheet being written (made by :meth:`XlsxBook.add_sheet`)."""

    def __init__(
        self,
        book: XlsxBook,
        name: str,
        index: int,
        widths: list[float],
        head_row: int | None,
        n_rows: int,
    ) -> None:
        self.book, self.name, self.index = book, name, index
        self.widths, self.head_row, self.n_rows = widths, head_row, n_rows
        self.row = 0
        self._paper, self._landscape, self._grid = 8, True, True
        self._heights: dict[int, float] = {}
        self._stream: Any = None

    def set_height(self, row: int, height_pt: float) -> None:
        """Set the height of the 1-based ``row`` (before it is written), in points."""
        self._heights[row] = float(height_pt)

    def _start(self) -> None:
        self._stream = self.book._zip.open(f"xl/worksheets/sheet{self.index}.xml", "w")
        pane = ""
        if self.head_row:
            top = f"A{self.head_row + 1}"
            pane = (
                f'<pane ySplit="{self.head_row}" topLeftCell="{top}" activePane="bottomLeft" '
                f'state="frozen"/><selection pane="bottomLeft" activeCell="{top}" sqref="{top}"/>'
            )
        selected = ' tabSelected="1"' if self.index == 1 else ""
        cols = "".join(
            f'<col min="{j}" max="{j}" width="{w:.2f}" customWidth="1"/>'
            for j, w in enumerate(self.widths, start=1)
        )
        self._write(
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<worksheet xmlns="{_NS}" xmlns:r="{_NS_R}">'
            '<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'
            f'<sheetViews><sheetView workbookViewId="0"{selected}>'
            f"{pane}</sheetView></sheetViews>"
            '<sheetFormatPr defaultRowHeight="15"/>'
            + (f"<cols>{cols}</cols>" if cols else "")
            + "<sheetData>"
        )

    def _write(self, text: str) -> None:
        self._stream.write(text.encode("utf-8"))

    def write_rows(
        self, values: np.ndarray, styles: np.ndarray, heights: np.ndarray | None = None
    ) -> None:
        """Append rows: ``values`` (object, n × m) with a style id for each cell.

        Numbers (int, float, numpy numbers) become numeric cells, text becomes a string cell
        (never a formula), None / NaN an empty cell that keeps its style. ``heights`` (points,
        0 for the default) sets each row's height.

        Parameters
        ----------
        values : numpy.ndarray
            Cell values, object dtype, one row per table row.
        styles : numpy.ndarray
            Integer style ids of the same shape (0: default).
        heights : numpy.ndarray, optional
            Row heights in points (0: default).
        """
        n = len(values)
        if not n:
            return
        m = values.shape[1]
        letters = [get_column_letter(j + 1) for j in range(m)]
        for start in range(0, n, _CHUNK_ROWS):
            stop = min(start + _CHUNK_ROWS, n)
            first = self.row + start + 1
            cols = [
                _column_xml(values[start:stop, j], styles[start:stop, j], letters[j], first)
                for j in range(m)
            ]
            rows = np.arange(self.row + start + 1, self.row + stop + 1)
            parts = []
            for k, r in enumerate(rows):
                h = self._heights.pop(int(r), None)
                if h is None and heights is not None and heights[start + k] > 0:
                    h = float(heights[start + k])
                attrs = f' ht="{h:.1f}" customHeight="1"' if h else ""
                parts.append(f'<row r="{r}"{attrs}>')
                parts.extend(c[k] for c in cols)
                parts.append("</row>")
            self._write("".join(parts))
        self.row += n

    def skip(self, n: int = 1) -> None:
        """Leave ``n`` empty rows."""
        self.row += n

    def _finish(self) -> None:
        tail = "</sheetData>"
        if self.head_row and self.widths:
            last = get_column_letter(len(self.widths))
            tail += (
                f'<autoFilter ref="A{self.head_row}:{last}{self.head_row + max(self.n_rows, 1)}"/>'
            )
        tail += (
            ('<printOptions gridLines="1"/>' if self._grid else "")
            + '<pageMargins left="0.4" right="0.4" top="0.5" bottom="0.6" header="0.3"'
            ' footer="0.3"/>'
            f'<pageSetup paperSize="{self._paper}" '
            f'orientation="{"landscape" if self._landscape else "portrait"}" '
            'fitToWidth="1" fitToHeight="0"/>'
            "<headerFooter><oddFooter>&amp;L&amp;A&amp;R&amp;P / &amp;N</oddFooter></headerFooter>"
            "</worksheet>"
        )
        self._write(tail)
        self._stream.close()
        self._stream = None


def _column_xml(values: np.ndarray, styles: np.ndarray, letter: str, first_row: int) -> list[str]:
    """Return the ``<c>`` element of every value in one column slice (one pass per type)."""
    s_attr = [
        f' r="{letter}{r}" s="{k}"' if k else f' r="{letter}{r}"'
        for r, k in enumerate(styles.tolist(), start=first_row)
    ]
    kinds = {type(v) for v in values}
    if kinds and kinds <= _NUMBER_TYPES:
        num = np.asarray(values, dtype=float)
        ok = np.isfinite(num).tolist()
        ints = kinds <= _INT_TYPES
        texts = [str(int(v)) for v in values] if ints else num.astype(str).tolist()
        return [
            f"<c{a}><v>{t}</v></c>" if good else f"<c{a}/>"
            for a, t, good in zip(s_attr, texts, ok, strict=True)
        ]
    if kinds <= {str, type(None)}:  # text: escaped only when some cell needs it
        texts = values.tolist()
        if _NEEDS_ESCAPE.search("".join(t for t in texts if t is not None)):
            texts = [None if t is None else _xml_text(t) for t in texts]
        return [
            f"<c{a}/>" if t is None else f"<c{a}{_INLINE_OPEN}{t}</t></is></c>"
            for a, t in zip(s_attr, texts, strict=True)
        ]
    return [_cell_xml(v, a) for v, a in zip(values, s_attr, strict=True)]


_INT_TYPES = {int, np.int64, np.int32, np.int16, np.int8, np.uint32, np.uint16, np.uint8}
_NUMBER_TYPES = {float, np.float64, np.float32, *_INT_TYPES}


def _cell_xml(value: Any, s_attr: str) -> str:
    if value is None:
        return f"<c{s_attr}/>"
    if isinstance(value, bool | np.bool_):
        return f'<c{s_attr} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float | np.integer | np.floating):
        v = float(value)
        if not np.isfinite(v):
            return f"<c{s_attr}/>"
        text = str(int(value)) if isinstance(value, int | np.integer) else repr(v)
        return f"<c{s_attr}><v>{text}</v></c>"
    text = value if isinstance(value, str) else str(value)
    return f"<c{s_attr}{_INLINE_OPEN}{_xml_text(text)}</t></is></c>"

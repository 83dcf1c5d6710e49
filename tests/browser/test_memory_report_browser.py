"""The HTML memory report, opened in a real browser (headless Chromium, Debian package
`chromium`): its script runs, the DOM holds one box per planned buffer, and the
screenshot shows each box in its colour where the plan puts it (x = the steps the buffer
is live, y = its offset).
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from tinyc.cli import main
from tinyc.memory.report import buffer_color

CHROMIUM = next(
    (p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p),
    None,
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs headless Chromium (Debian: apt-get install chromium)"
)
MODEL = Path(__file__).resolve().parents[2] / "examples" / "models" / "resnet8.onnx"
WINDOW = "1100,720"


def _chromium(*args: str) -> subprocess.CompletedProcess[bytes]:
    assert CHROMIUM is not None
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--force-device-scale-factor=1", f"--window-size={WINDOW}", *args]
    return subprocess.run(cmd, capture_output=True, timeout=120)


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes], int]:
    """Decode an 8-bit RGB/RGBA, non-interlaced PNG: (width, height, rows, channels)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = depth = ctype = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert depth == 8 and ctype in (2, 6)
    ch = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(idat), width * ch
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        f, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = line[i - ch] if i >= ch else 0
            b, c = prev[i], prev[i - ch] if i >= ch else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, rows, ch


def test_report_shows_the_plan(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["compile", str(MODEL), "-o", str(out), "--report"]) == 0
    data = json.loads((out / "report.json").read_text())
    page = (out / "report.html").read_text()
    assert not re.search(r"(src|href)=\"?(https?:)?//", page)  # self-contained, no network

    dom = _chromium("--dump-dom", (out / "report.html").as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout.decode()
    boxes = re.findall(r"<rect class=\"buffer\"[^>]*>", html)
    assert len(boxes) == len(data["buffers"]) > 0
    ready = re.search(r'data-plan-ready="(\d+)"', html)
    assert ready and int(ready.group(1)) == len(boxes)  # the page's script ran
    left = float(re.search(r'data-plan-left="([\d.]+)"', html).group(1))  # type: ignore[union-attr]
    top = float(re.search(r'data-plan-top="([\d.]+)"', html).group(1))  # type: ignore[union-attr]
    assert '<rect class="peak"' in html

    shot = tmp_path / "shot.png"
    res = _chromium(f"--screenshot={shot}", (out / "report.html").as_uri())
    assert res.returncode == 0 and shot.exists(), res.stderr[-2000:]
    width, height, rows, ch = _png_pixels(shot.read_bytes())
    checked = 0
    for i, (box, buf) in enumerate(zip(boxes, data["buffers"], strict=True)):
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', box))
        assert int(attrs["data-offset"]) == buf["offset"]
        assert int(attrs["data-first"]) == buf["first"] and int(attrs["data-size"]) == buf["size"]
        w, h = float(attrs["width"]), float(attrs["height"])
        if w < 8 or h < 8:
            continue  # too thin to sample away from its outline
        x = round(left + float(attrs["x"]) + w / 2)
        y = round(top + float(attrs["y"]) + h / 2)
        assert 0 <= x < width and 0 <= y < height
        pixel = rows[y][x * ch : x * ch + 3]
        want = bytes.fromhex(buffer_color(i, buf["kind"])[1:])
        assert all(abs(p - q) <= 3 for p, q in zip(pixel, want, strict=True)), (buf, pixel, want)
        checked += 1
    assert checked >= 5

"""The QR encoder of the provisioning result (``provisioning/qr.py``).

Always: the Reed-Solomon codewords of the standard's worked example (1-M "HELLO
WORLD"), the version chosen at the byte-mode capacity edges of level M, and the
format information read back from both of its copies. Where Debian's ``zbarimg``
is installed (package zbar-tools), codes of many sizes, versions 1 to 27, are
rendered to PNG and must decode to the exact text.
"""

from __future__ import annotations

import random
import shutil
import string
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from gatehouse.integrations.mqtt.provisioning.qr import (
    QrTooLong,
    qr_matrix,
    qr_svg,
    rs_divisor,
    rs_remainder,
)


def test_reed_solomon_matches_the_worked_example() -> None:
    data = [32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236, 17, 236, 17]
    assert rs_remainder(data, rs_divisor(10)) == [196, 35, 39, 119, 235, 215, 231, 226,
                                                 93, 23]


@pytest.mark.parametrize(("length", "version"), [
    (14, 1), (15, 2), (213, 10), (214, 11), (2331, 40),
])
def test_the_smallest_version_that_holds_the_bytes(length: int, version: int) -> None:
    assert len(qr_matrix("x" * length)) == version * 4 + 17


def test_too_long_is_an_error_not_a_broken_code() -> None:
    with pytest.raises(QrTooLong, match="2331"):
        qr_matrix("x" * 2332)


def _format_bits(grid: list[list[bool]]) -> tuple[int, int]:
    """Both copies of the 15 format bits, as ``draw_format`` placed them."""
    size = len(grid)
    first = [grid[i][8] for i in range(6)] + [grid[7][8], grid[8][8], grid[8][7]]
    first += [grid[8][14 - i] for i in range(9, 15)]
    second = [grid[8][size - 1 - i] for i in range(8)]
    second += [grid[size - 15 + i][8] for i in range(8, 15)]
    return (sum(b << i for i, b in enumerate(first)),
            sum(b << i for i, b in enumerate(second)))


def test_format_information_says_level_m_twice_with_a_valid_bch_code() -> None:
    grid = qr_matrix('{"username":"t1","password":"secret"}')
    one, two = _format_bits(grid)
    assert one == two
    raw = one ^ 0x5412
    data = raw >> 10
    check = data
    for _ in range(10):  # the BCH(15,5) remainder of the five data bits
        check = (check << 1) ^ ((check >> 9) * 0x537)
    assert raw == data << 10 | check
    assert data >> 3 == 0b00  # level M; the low three bits are the mask


def test_the_svg_is_a_standalone_image_with_quiet_zone() -> None:
    svg = qr_svg("hello", module=2)
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 29 29"')
    assert 'width="58"' in svg and "<script" not in svg


def _png(grid: list[list[bool]], path: Path, scale: int = 4, border: int = 4) -> None:
    n = len(grid) + 2 * border
    rows = []
    for y in range(n * scale):
        gy = y // scale - border
        row = bytearray([0])
        for x in range(n * scale):
            gx = x // scale - border
            dark = 0 <= gy < len(grid) and 0 <= gx < len(grid) and grid[gy][gx]
            row.append(0 if dark else 255)
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", n * scale, n * scale, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


@pytest.mark.parametrize("length", [1, 17, 50, 100, 213, 214, 300, 600, 1000])
def test_codes_decode_to_the_exact_text(length: int, tmp_path: Path) -> None:
    # zbarimg comes from Debian's zbar-tools, which scripts/_setup.sh installs.
    assert shutil.which("zbarimg"), "zbarimg missing: run scripts/test (installs zbar-tools)"
    rng = random.Random(length)
    text = "".join(rng.choice(string.ascii_letters + string.digits + '{}":,/-_')
                   for _ in range(length))
    image = tmp_path / "code.png"
    _png(qr_matrix(text), image)
    decoded = subprocess.run(["zbarimg", "-q", "--raw", str(image)], capture_output=True,
                             text=True, check=False).stdout
    assert decoded.rstrip("\n") == text

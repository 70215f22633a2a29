"""A QR code encoder (ISO/IEC 18004, byte mode, error correction level M) and its SVG.

Written here instead of adding a dependency for one picture: the provisioning result
carries broker address, username, password and topic root as a QR code the installer
scans from the screen. The SVG is made server-side, so the browser only shows an
image (no script parses secrets). Byte mode at level M covers up to 2331 bytes
(version 40); a provisioning payload is about 200.

The steps: data bits (mode 0100, length, bytes, terminator, padding) → blocks with
Reed-Solomon error correction over GF(256) (polynomial 0x11D) → interleaved codewords
→ the matrix (finders, separators, timing, alignment patterns, dark module, version
information from 7 up) → data in the two-column zigzag → each of the eight masks
tried, the one with the lowest penalty (the four rules of §7.8.3) kept → format bits.
The per-version block tables are the standard's (Table 9), level M only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

#: Error-correction codewords per block and number of blocks, level M, versions 1-40
#: (index 0 unused).
_ECC_PER_BLOCK: Final = (
    -1, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26,
    26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28)
_BLOCKS: Final = (
    -1, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20,
    21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49)
#: Format information's error-correction level bits for M.
_LEVEL_M_BITS: Final = 0b00


class QrTooLong(ValueError):
    """The text does not fit a version 40 code at level M."""


# -- Reed-Solomon over GF(256) ---------------------------------------------------------------

def _gf_mul(x: int, y: int) -> int:
    """Russian-peasant multiplication modulo x^8 + x^4 + x^3 + x^2 + 1."""
    z = 0
    for i in reversed(range(8)):
        z = (z << 1) ^ ((z >> 7) * 0x11D)
        z ^= ((y >> i) & 1) * x
    return z


def rs_divisor(degree: int) -> list[int]:
    """Coefficients (highest first, leading 1 left out) of prod(x - a^i), i < degree."""
    result = [0] * (degree - 1) + [1]
    root = 1
    for _ in range(degree):
        for j in range(degree):
            result[j] = _gf_mul(result[j], root)
            if j + 1 < degree:
                result[j] ^= result[j + 1]
        root = _gf_mul(root, 0x02)
    return result


def _tables() -> tuple[list[int], list[int]]:
    exp, log = [0] * 512, [0] * 256
    value = 1
    for power in range(255):
        exp[power] = value
        log[value] = power
        value = _gf_mul(value, 0x02)
    for power in range(255, 512):
        exp[power] = exp[power - 255]
    return exp, log


#: Powers of 2 in GF(256) (doubled, so a sum of two logs needs no modulo) and logs.
_EXP, _LOG = _tables()


def rs_remainder(data: bytes | list[int], divisor: list[int]) -> list[int]:
    """The error-correction codewords of ``data`` (products by log/antilog tables)."""
    logs = [_LOG[c] if c else -1 for c in divisor]
    result = [0] * len(divisor)
    for byte in data:
        factor = byte ^ result.pop(0)
        result.append(0)
        if factor:
            log_factor = _LOG[factor]
            for i, log_coef in enumerate(logs):
                if log_coef >= 0:
                    result[i] ^= _EXP[log_coef + log_factor]
    return result


# -- sizes -------------------------------------------------------------------------------------

def _raw_modules(version: int) -> int:
    """Modules left for data and error correction (function patterns taken out)."""
    result = (16 * version + 128) * version + 64
    if version >= 2:
        align = version // 7 + 2
        result -= (25 * align - 10) * align - 55
        if version >= 7:
            result -= 36
    return result


def _data_codewords(version: int) -> int:
    return _raw_modules(version) // 8 - _ECC_PER_BLOCK[version] * _BLOCKS[version]


def _alignment_positions(version: int) -> list[int]:
    if version == 1:
        return []
    count = version // 7 + 2
    step = (version * 8 + count * 3 + 5) // (count * 4 - 4) * 2
    size = version * 4 + 17
    return [6, *[size - 7 - i * step for i in range(count - 1)][::-1]]


# -- codewords ---------------------------------------------------------------------------------

def _choose_version(length: int) -> int:
    for version in range(1, 41):
        count_bits = 8 if version < 10 else 16
        if 4 + count_bits + 8 * length <= _data_codewords(version) * 8:
            return version
    raise QrTooLong(f"{length} bytes do not fit a QR code at level M (2331 at most)")


def _codewords(data: bytes, version: int) -> list[int]:
    bits: list[int] = []

    def put(value: int, count: int) -> None:
        bits.extend((value >> i) & 1 for i in reversed(range(count)))

    put(0b0100, 4)
    put(len(data), 8 if version < 10 else 16)
    for byte in data:
        put(byte, 8)
    capacity = _data_codewords(version) * 8
    put(0, min(4, capacity - len(bits)))
    put(0, -len(bits) % 8)
    words = [int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, len(bits), 8)]
    pad = 0xEC
    while len(words) < capacity // 8:
        words.append(pad)
        pad ^= 0xEC ^ 0x11
    # Split into blocks (short ones first), add error correction, interleave.
    blocks_n, ecc_len = _BLOCKS[version], _ECC_PER_BLOCK[version]
    raw = _raw_modules(version) // 8
    short = blocks_n - raw % blocks_n
    short_len = raw // blocks_n - ecc_len
    divisor = rs_divisor(ecc_len)
    blocks: list[tuple[list[int], list[int]]] = []
    start = 0
    for index in range(blocks_n):
        size = short_len + (0 if index < short else 1)
        chunk = words[start:start + size]
        start += size
        blocks.append((chunk, rs_remainder(chunk, divisor)))
    result = [chunk[i] for i in range(short_len + 1) for chunk, _ in blocks if i < len(chunk)]
    result += [ecc[i] for i in range(ecc_len) for _, ecc in blocks]
    return result


# -- the matrix ----------------------------------------------------------------------------------

class _Matrix:
    def __init__(self, version: int) -> None:
        self.version = version
        self.size = version * 4 + 17
        self.dark = [[False] * self.size for _ in range(self.size)]
        self.function = [[False] * self.size for _ in range(self.size)]

    def set(self, x: int, y: int, dark: bool) -> None:
        self.dark[y][x] = dark
        self.function[y][x] = True

    def draw_function_patterns(self) -> None:
        size = self.size
        for i in range(size):
            self.set(6, i, i % 2 == 0)
            self.set(i, 6, i % 2 == 0)
        for cx, cy in ((3, 3), (size - 4, 3), (3, size - 4)):
            for dy in range(-4, 5):
                for dx in range(-4, 5):
                    x, y = cx + dx, cy + dy
                    if 0 <= x < size and 0 <= y < size:
                        ring = max(abs(dx), abs(dy))
                        self.set(x, y, ring not in (2, 4))
        positions = _alignment_positions(self.version)
        last = len(positions) - 1
        for i, cx in enumerate(positions):
            for j, cy in enumerate(positions):
                if (i, j) in ((0, 0), (0, last), (last, 0)):
                    continue  # under a finder
                for dy in range(-2, 3):
                    for dx in range(-2, 3):
                        self.set(cx + dx, cy + dy, max(abs(dx), abs(dy)) != 1)
        self.draw_format(0)  # reserve; the real bits come after masking
        self.draw_version()

    def draw_format(self, mask: int) -> None:
        data = _LEVEL_M_BITS << 3 | mask
        rem = data
        for _ in range(10):
            rem = (rem << 1) ^ ((rem >> 9) * 0x537)
        bits = (data << 10 | rem) ^ 0x5412
        size = self.size

        def bit(i: int) -> bool:
            return (bits >> i) & 1 != 0

        for i in range(6):
            self.set(8, i, bit(i))
        self.set(8, 7, bit(6))
        self.set(8, 8, bit(7))
        self.set(7, 8, bit(8))
        for i in range(9, 15):
            self.set(14 - i, 8, bit(i))
        for i in range(8):
            self.set(size - 1 - i, 8, bit(i))
        for i in range(8, 15):
            self.set(8, size - 15 + i, bit(i))
        self.set(8, size - 8, True)  # the dark module

    def draw_version(self) -> None:
        if self.version < 7:
            return
        rem = self.version
        for _ in range(12):
            rem = (rem << 1) ^ ((rem >> 11) * 0x1F25)
        bits = self.version << 12 | rem
        for i in range(18):
            dark = (bits >> i) & 1 != 0
            a, b = self.size - 11 + i % 3, i // 3
            self.set(a, b, dark)
            self.set(b, a, dark)

    def draw_codewords(self, words: list[int]) -> None:
        size = self.size
        index = 0
        total = len(words) * 8
        right = size - 1
        while right >= 1:
            if right == 6:
                right = 5
            for vert in range(size):
                for j in range(2):
                    x = right - j
                    upward = ((right + 1) & 2) == 0
                    y = size - 1 - vert if upward else vert
                    if not self.function[y][x] and index < total:
                        self.dark[y][x] = (words[index >> 3] >> (7 - (index & 7))) & 1 != 0
                        index += 1
            right -= 2

    def apply_mask(self, mask: int) -> None:
        rules: tuple[Callable[[int, int], bool], ...] = (
            lambda x, y: (x + y) % 2 == 0,
            lambda x, y: y % 2 == 0,
            lambda x, y: x % 3 == 0,
            lambda x, y: (x + y) % 3 == 0,
            lambda x, y: (x // 3 + y // 2) % 2 == 0,
            lambda x, y: x * y % 2 + x * y % 3 == 0,
            lambda x, y: (x * y % 2 + x * y % 3) % 2 == 0,
            lambda x, y: ((x + y) % 2 + x * y % 3) % 2 == 0,
        )
        rule = rules[mask]
        for y in range(self.size):
            for x in range(self.size):
                if not self.function[y][x] and rule(x, y):
                    self.dark[y][x] = not self.dark[y][x]

    def penalty(self) -> int:
        """The standard's four penalty rules (lower is easier to scan).

        Rows and columns become strings of 0/1 so runs and the finder-like pattern are
        found by the regex engine instead of module by module in Python.
        """
        size, grid = self.size, self.dark
        rows = ["".join("1" if d else "0" for d in row) for row in grid]
        cols = ["".join(row[x] for row in rows) for x in range(size)]
        score = 0
        for line in rows + cols:
            for run in _RUNS.finditer(line):
                score += len(run.group()) - 2  # 3 for five, one more per module
            score += 40 * len(_FINDER_LIKE.findall(line))
        for y in range(size - 1):
            top, bottom = rows[y], rows[y + 1]
            for x in range(size - 1):
                if top[x] == top[x + 1] == bottom[x] == bottom[x + 1]:
                    score += 3
        dark = sum(row.count("1") for row in rows)
        total = size * size
        score += 10 * (abs(dark * 100 - total * 50) // (total * 5))
        return score


#: Five or more modules of one colour in a line.
_RUNS: Final = re.compile(r"0{5,}|1{5,}")
#: 1:1:3:1:1 with four light modules on either side (lookahead: overlapping matches).
_FINDER_LIKE: Final = re.compile(r"(?=10111010000|00001011101)")


def qr_matrix(text: str | bytes) -> list[list[bool]]:
    """The modules (True = dark) of the QR code of ``text``, without the quiet zone."""
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    version = _choose_version(len(data))
    base = _Matrix(version)
    base.draw_function_patterns()
    base.draw_codewords(_codewords(data, version))
    best: _Matrix | None = None
    best_score = 0
    for mask in range(8):
        matrix = _Matrix(version)
        matrix.function = base.function  # shared: read-only from here on
        matrix.dark = [list(row) for row in base.dark]
        matrix.apply_mask(mask)
        matrix.draw_format(mask)
        score = matrix.penalty()
        if best is None or score < best_score:
            best, best_score = matrix, score
    assert best is not None
    return best.dark


def qr_svg(text: str | bytes, *, module: int = 4, border: int = 4) -> str:
    """The QR code as a standalone SVG (black on white, ``border`` modules of quiet
    zone), one path of unit squares."""
    grid = qr_matrix(text)
    size = len(grid) + 2 * border
    parts = [f"M{x + border},{y + border}h1v1h-1z"
             for y, row in enumerate(grid) for x, dark in enumerate(row) if dark]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'width="{size * module}" height="{size * module}" shape-rendering="crispEdges" '
        f'role="img" aria-label="QR code">'
        f'<rect width="100%" height="100%" fill="#fff"/>'
        f'<path d="{"".join(parts)}" fill="#000"/></svg>'
    )

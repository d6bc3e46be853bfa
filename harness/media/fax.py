"""G3 fax terminals for fax rows: ITU-T T.30 over the call's audio (G.711 pass-through),
from Debian's libspandsp (a maintained fax engine: T.30, V.21/V.27ter/V.29/V.17
modems, T.4 page coding) driven through ctypes; the page is a TIFF-F file, written
and read with libtiff (also through ctypes, the library libspandsp itself uses).

Why ctypes: no Python binding of spandsp is packaged; the few calls a terminal needs
(fax_init, fax_rx/fax_tx on 16-bit linear samples, the T.30 file, ECM and phase E
settings, the transfer statistics) have plain C signatures (spandsp 0.0.6 headers,
`libspandsp-dev`). A `FaxTerminal` is fed and drained 20 ms at a time by the agent's
audio port (harness/sip/agent.py), on the media thread; it holds no pjsua2 object.

The page sent is drawn here (`write_test_page`): bars and blocks of several widths
that T.4 codes in runs of many lengths, 1728 pixels wide (A4 at 8 pixels/mm), standard
resolution (204 x 98 dpi). The page received is compared with it row by row
(`compare_pages`): a fax is intact only when every row is the same bit for bit.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import EnvironmentMissing

WIDTH = 1728  # pixels per row: ITU-T T.4 A4 at R8 (8 pixels/mm)
ROWS = 400  # the test page's rows (~10 cm at standard resolution)
SAMPLES = 160  # 20 ms at 8 kHz: one frame of the agent's port

# libtiff tags and values (tiff.h)
_IMAGEWIDTH, _IMAGELENGTH, _BITSPERSAMPLE, _COMPRESSION = 256, 257, 258, 259
_PHOTOMETRIC, _FILLORDER, _SAMPLESPERPIXEL, _ROWSPERSTRIP = 262, 266, 277, 278
_XRESOLUTION, _YRESOLUTION, _T4OPTIONS, _RESOLUTIONUNIT, _PAGENUMBER = 282, 283, 292, 296, 297
_CCITTFAX3, _MINISWHITE, _MSB2LSB, _INCH = 3, 0, 1, 2

# spandsp's phase E completion codes: 0 is T30_ERR_OK (t30.h)
T30_ERR_OK = 0


class _Stats(ctypes.Structure):
    """t30_stats_t, spandsp 0.0.6 (t30.h)."""

    _fields_ = [(name, ctypes.c_int) for name in (
        "bit_rate", "error_correcting_mode", "pages_tx", "pages_rx", "pages_in_file",
        "x_resolution", "y_resolution", "width", "length", "image_size", "encoding",
        "bad_rows", "longest_bad_row_run", "error_correcting_mode_retries",
        "current_status")]


_PHASE_E = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)
_LIBS: dict[str, Any] = {}


def _lib(name: str, package: str) -> Any:
    """libtiff / libspandsp, loaded once, with the signatures used here."""
    if name in _LIBS:
        return _LIBS[name]
    path = ctypes.util.find_library(name)
    if path is None:
        raise EnvironmentMissing(f"lib{name}", package)
    lib = ctypes.CDLL(path)
    vp, i = ctypes.c_void_p, ctypes.c_int
    if name == "tiff":
        lib.TIFFOpen.restype, lib.TIFFOpen.argtypes = vp, [ctypes.c_char_p, ctypes.c_char_p]
        lib.TIFFClose.argtypes = [vp]
        lib.TIFFSetField.restype = i  # variadic: each call passes typed arguments
        lib.TIFFGetField.restype = i
        lib.TIFFWriteScanline.argtypes = [vp, vp, ctypes.c_uint32, ctypes.c_uint16]
        lib.TIFFReadScanline.argtypes = [vp, vp, ctypes.c_uint32, ctypes.c_uint16]
        lib.TIFFNumberOfDirectories.argtypes = [vp]
    else:
        lib.fax_init.restype, lib.fax_init.argtypes = vp, [vp, i]
        lib.fax_free.argtypes = [vp]
        lib.fax_get_t30_state.restype, lib.fax_get_t30_state.argtypes = vp, [vp]
        lib.fax_rx.argtypes = lib.fax_tx.argtypes = [vp, vp, i]
        lib.fax_set_transmit_on_idle.argtypes = [vp, i]
        lib.t30_set_tx_file.argtypes = [vp, ctypes.c_char_p, i, i]
        lib.t30_set_rx_file.argtypes = [vp, ctypes.c_char_p, i]
        lib.t30_set_tx_ident.argtypes = [vp, ctypes.c_char_p]
        lib.t30_set_ecm_capability.argtypes = [vp, i]
        lib.t30_set_phase_e_handler.argtypes = [vp, _PHASE_E, vp]
        lib.t30_get_transfer_statistics.argtypes = [vp, ctypes.POINTER(_Stats)]
        lib.t30_completion_code_to_str.restype = ctypes.c_char_p
        lib.t30_completion_code_to_str.argtypes = [i]
    _LIBS[name] = lib
    return lib


def _test_row(y: int) -> bytes:
    """Row `y` of the test page (1 = black, MSB first): a margin, blocks whose width
    grows down the page, bands of blank rows between."""
    row = bytearray(WIDTH // 8)
    if y % 100 >= 80:
        return bytes(row)
    cell = 8 + (y // 50) * 4
    for x in range(40, WIDTH - 40):
        if (x // cell + y // 20) % 2 == 0:
            row[x // 8] |= 0x80 >> (x % 8)
    return bytes(row)


@functools.cache
def _test_page() -> tuple[bytes, ...]:
    return tuple(_test_row(y) for y in range(ROWS))


def test_page_rows() -> list[bytes]:
    """The test page, row by row: drawn once per process (written, then compared with
    every page received)."""
    return list(_test_page())


def write_test_page(path: Path) -> Path:
    """The page a fax row sends, as TIFF-F (T.4 1D, standard resolution), at `path`."""
    lib = _lib("tiff", "libtiff6")
    path.parent.mkdir(parents=True, exist_ok=True)
    tif = lib.TIFFOpen(str(path).encode(), b"w")
    if not tif:
        raise OSError(f"{path}: libtiff could not create it")
    handle = ctypes.c_void_p(tif)
    try:
        for tag, value in ((_IMAGEWIDTH, WIDTH), (_IMAGELENGTH, ROWS), (_BITSPERSAMPLE, 1),
                           (_SAMPLESPERPIXEL, 1), (_COMPRESSION, _CCITTFAX3),
                           (_PHOTOMETRIC, _MINISWHITE), (_FILLORDER, _MSB2LSB),
                           (_RESOLUTIONUNIT, _INCH), (_ROWSPERSTRIP, ROWS), (_T4OPTIONS, 0)):
            lib.TIFFSetField(handle, ctypes.c_uint32(tag), ctypes.c_uint32(value))
        lib.TIFFSetField(handle, ctypes.c_uint32(_XRESOLUTION), ctypes.c_double(204.0))
        lib.TIFFSetField(handle, ctypes.c_uint32(_YRESOLUTION), ctypes.c_double(98.0))
        lib.TIFFSetField(handle, ctypes.c_uint32(_PAGENUMBER), ctypes.c_uint32(0),
                         ctypes.c_uint32(1))
        for y, row in enumerate(test_page_rows()):
            buf = ctypes.create_string_buffer(row, len(row))
            if lib.TIFFWriteScanline(handle, buf, y, 0) != 1:
                raise OSError(f"{path}: libtiff could not write row {y}")
    finally:
        lib.TIFFClose(handle)
    return path


def read_page_rows(path: Path) -> list[bytes]:
    """The first page of a TIFF fax file, row by row (1 = black, MSB first)."""
    lib = _lib("tiff", "libtiff6")
    tif = lib.TIFFOpen(str(path).encode(), b"r")
    if not tif:
        raise OSError(f"{path}: libtiff could not open it")
    handle = ctypes.c_void_p(tif)
    try:
        width, length = ctypes.c_uint32(), ctypes.c_uint32()
        lib.TIFFGetField(handle, ctypes.c_uint32(_IMAGEWIDTH), ctypes.byref(width))
        lib.TIFFGetField(handle, ctypes.c_uint32(_IMAGELENGTH), ctypes.byref(length))
        size = (width.value + 7) // 8
        buf = ctypes.create_string_buffer(size + 8)
        rows = []
        for y in range(length.value):
            if lib.TIFFReadScanline(handle, buf, y, 0) != 1:
                break
            rows.append(buf.raw[:size])
        return rows
    finally:
        lib.TIFFClose(handle)


@dataclass(frozen=True, slots=True)
class PageCompare:
    rows_sent: int
    rows_received: int
    rows_differing: int  # of the rows both have
    first_differing: int | None


def compare_pages(sent: list[bytes], received: list[bytes]) -> PageCompare:
    """Row by row, bit for bit."""
    both = min(len(sent), len(received))
    differ = [y for y in range(both) if sent[y] != received[y]]
    return PageCompare(len(sent), len(received), len(differ), differ[0] if differ else None)


@dataclass(frozen=True, slots=True)
class FaxResult:
    """What one fax terminal did on a call: T.30's completion (phase E) and its
    transfer statistics."""

    role: str  # "send" | "receive"
    completion: int | None  # phase E code (0 = OK); None: T.30 never ended
    completion_text: str
    pages_tx: int
    pages_rx: int
    bit_rate: int
    ecm: bool
    bad_rows: int
    file: Path | None  # the page sent, or the file received

    @property
    def ok(self) -> bool:
        return self.completion == T30_ERR_OK


def library() -> Any:
    """libspandsp, loaded once (its T.30 and fax functions' signatures set)."""
    return _lib("spandsp", "libspandsp2")


class T30Session:
    """What every fax terminal here shares, over audio (`FaxTerminal`) or T.38
    (harness/media/t38.py): a libspandsp T.30 session, sending `path` (role "send") or
    receiving into it, that ends with phase E."""

    def __init__(self, t30: int, role: str, path: Path, ecm: bool, ident: str) -> None:
        self._t30, self.role, self.path = t30, role, path
        self.completion: int | None = None
        sp = library()
        self._handler = _PHASE_E(self._phase_e)  # kept: C holds the pointer
        sp.t30_set_phase_e_handler(t30, self._handler, None)
        sp.t30_set_ecm_capability(t30, 1 if ecm else 0)
        sp.t30_set_tx_ident(t30, ident.encode())
        if role == "send":
            sp.t30_set_tx_file(t30, str(path).encode(), -1, -1)
        else:
            sp.t30_set_rx_file(t30, str(path).encode(), -1)

    def _phase_e(self, _t30: int, _user: int, code: int) -> None:
        self.completion = code

    @property
    def done(self) -> bool:
        """T.30 has ended (phase E), whatever the outcome."""
        return self.completion is not None

    @property
    def ok(self) -> bool:
        return self.completion == T30_ERR_OK

    def result(self) -> FaxResult:
        """What the session did: its phase E code and transfer statistics."""
        sp = library()
        stats = _Stats()
        sp.t30_get_transfer_statistics(self._t30, ctypes.byref(stats))
        code = self.completion
        text = sp.t30_completion_code_to_str(code).decode() if code is not None \
            else "T.30 did not end"
        return FaxResult(self.role, code, text, stats.pages_tx, stats.pages_rx,
                         stats.bit_rate, bool(stats.error_correcting_mode), stats.bad_rows,
                         self.path if self.path.exists() else None)


class FaxTerminal(T30Session):
    """One side of a fax call: sends `page` (the calling side, by default) or
    receives into `receive_into`. `rx`/`tx` take and give 16-bit linear samples at
    8 kHz; the phase E handler fires inside them."""

    def __init__(self, role: str, path: Path, calling: bool, ecm: bool = False,
                 ident: str = "beta harness") -> None:
        self._sp = library()
        self._state = self._sp.fax_init(None, 1 if calling else 0)
        if not self._state:
            raise OSError("libspandsp: fax_init failed")
        self._sp.fax_set_transmit_on_idle(self._state, 1)
        super().__init__(self._sp.fax_get_t30_state(self._state), role, path, ecm, ident)
        self._rx = (ctypes.c_int16 * SAMPLES)()
        self._tx = (ctypes.c_int16 * SAMPLES)()

    def rx(self, pcm: bytes) -> None:
        """Samples heard on the call (16-bit little-endian linear, 8 kHz)."""
        n = min(len(pcm) // 2, SAMPLES)
        ctypes.memmove(self._rx, pcm, n * 2)
        self._sp.fax_rx(self._state, self._rx, n)

    def tx(self, samples: int = SAMPLES) -> bytes:
        """The next `samples` to send (16-bit little-endian linear)."""
        n = min(samples, SAMPLES)
        got = self._sp.fax_tx(self._state, self._tx, n)
        data = ctypes.string_at(self._tx, n * 2)
        return data if got >= n else data[:got * 2] + bytes((n - got) * 2)

    def close(self) -> None:
        if self._state:
            self._sp.fax_free(self._state)
            self._state = None

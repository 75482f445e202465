"""Frame ranges and frame-number patterns (``%04d``, ``####``, ``$F4``) for image sequences."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import FrameRangeError

_PRINTF = re.compile(r"%(0?)(\d*)d")
_HASHES = re.compile(r"#+")
_HOUDINI = re.compile(r"\$F(\d*)")


def parse_frame_range(text: str | None) -> tuple[int, int] | None:
    """Parse ``"A-B"`` (inclusive), ``"A"`` or None. Negative numbers are not frame numbers here.

    Example:
        >>> parse_frame_range("1001-1010")
        (1001, 1010)
    """
    if text is None or str(text).strip() == "":
        return None
    m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", str(text))
    if m is None:
        raise FrameRangeError(f"frame range {text!r} is not of the form A-B (e.g. 1001-1100)")
    a = int(m.group(1))
    b = int(m.group(2)) if m.group(2) is not None else a
    if b < a:
        raise FrameRangeError(f"frame range {text!r} ends before it starts")
    return a, b


def is_pattern(path: str) -> bool:
    """True if ``path`` names an image sequence through a frame-number pattern."""
    return bool(_PRINTF.search(path) or _HASHES.search(Path(path).name) or _HOUDINI.search(path))


@dataclass(frozen=True)
class FramePattern:
    """An image-sequence path with one frame-number field, e.g. ``plate.####.exr`` or ``plate.%04d.exr``."""

    prefix: str
    padding: int
    suffix: str

    @classmethod
    def parse(cls, path: str | Path) -> "FramePattern":
        path = str(path)
        fields = [(m, int(m.group(2) or 0)) for m in _PRINTF.finditer(path)]
        fields += [(m, len(m.group(0))) for m in _HASHES.finditer(path)
                   if m.start() >= len(path) - len(Path(path).name)]
        fields += [(m, int(m.group(1) or 0)) for m in _HOUDINI.finditer(path)]
        if len(fields) != 1:
            raise FrameRangeError(
                f"{path!r} must contain exactly one frame-number field (%04d, #### or $F4); found {len(fields)}")
        m, pad = fields[0]
        return cls(path[: m.start()], pad, path[m.end():])

    def path(self, frame: int) -> Path:
        """The file of one frame."""
        return Path(f"{self.prefix}{frame:0{self.padding}d}{self.suffix}")

    def existing_frames(self) -> list[int]:
        """Frame numbers of the files on disk that match the pattern, sorted."""
        folder = Path(self.prefix).parent
        head = Path(self.prefix).name
        rx = re.compile(re.escape(head) + (r"(\d+)" if self.padding == 0 else r"(\d{%d,})" % self.padding)
                        + re.escape(self.suffix) + "$")
        if not folder.is_dir():
            return []
        found = []
        for p in folder.iterdir():
            m = rx.match(p.name)
            if m:
                found.append(int(m.group(1)))
        return sorted(found)

    def __str__(self) -> str:
        return f"{self.prefix}{'#' * max(self.padding, 1)}{self.suffix}"

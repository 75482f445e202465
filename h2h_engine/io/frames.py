"""Frame ranges and frame-number patterns (``%04d``, ``####``, ``$F4``) for image sequences."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import FrameRangeError

# The largest picture side the engine reads or renders (an 8K plate; a 8192x8192 float render is 256 MiB a
# channel): sizes past it are refused up front instead of failing on memory after the work has started.
MAX_SIDE = 8192

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


def _fields(name: str) -> list[tuple[re.Match, int]]:
    """The frame-number fields in a file name with their padding, in order of position."""
    found = [(m, int(m.group(2) or 0)) for m in _PRINTF.finditer(name)]
    found += [(m, len(m.group(0))) for m in _HASHES.finditer(name)]
    found += [(m, int(m.group(1) or 0)) for m in _HOUDINI.finditer(name)]
    return sorted(found, key=lambda f: f[0].start())


def is_pattern(path: str) -> bool:
    """True if ``path`` names an image sequence through a frame-number pattern in its file name.

    Folder names never hold a pattern (``100%done/clip.mp4`` is a movie), and a path that exists as a
    file is that file (``take#1.mp4``).
    """
    return bool(_fields(Path(path).name)) and not Path(path).is_file()


@dataclass(frozen=True)
class FramePattern:
    """An image-sequence path with one frame-number field, e.g. ``plate.####.exr`` or ``plate.%04d.exr``."""

    prefix: str
    padding: int
    suffix: str

    @classmethod
    def parse(cls, path: str | Path) -> "FramePattern":
        """The pattern of ``path``: the last frame-number field of its file name (others stay literal)."""
        path = str(path)
        name_start = len(path) - len(Path(path).name)
        fields = _fields(path[name_start:])
        if not fields:
            raise FrameRangeError(f"{path!r} has no frame-number field (%04d, #### or $F4) in its file name")
        m, pad = fields[-1]
        return cls(path[: name_start + m.start()], pad, path[name_start + m.end():])

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

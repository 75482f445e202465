"""Farm task: render one Head2Head Group of a saved script, one frame chunk, with Nuke in terminal mode::

    nuke -t <plugin>/h2h_nuke/farm.py SCRIPT.nk GROUP [FIRST-LAST]

(``<plugin>`` is the ``plugin/nuke`` folder, which must be on ``NUKE_PATH``). It opens the script, precomps
the Group's input if it is not a bare Read (through a Write, as the Render button does), runs the engine for
the chunk and exits with its status (0 done, 2 a one-line engine error on stderr). Chunks may be any size
and may be retried: frames already on disk are kept (see docs/host.md, "Farm").
"""
from __future__ import annotations

import sys
from typing import Sequence

USAGE = "usage: nuke -t farm.py SCRIPT.nk GROUP [FIRST-LAST]"


def parse_chunk(text: str) -> tuple[int, int]:
    """``"1001-1050"`` -> (1001, 1050); ``"1001"`` -> (1001, 1001); ValueError otherwise."""
    a, sep, b = text.partition("-")
    try:
        first, last = int(a), int(b) if sep else int(a)
    except ValueError:
        raise ValueError(f"frame chunk {text!r}: expected FIRST-LAST, e.g. 1001-1050") from None
    if last < first:
        raise ValueError(f"frame chunk {text!r}: last frame before first")
    return first, last


def main(argv: Sequence[str]) -> int:
    """Render ``GROUP`` of ``SCRIPT`` (``argv``: script, group name, optional chunk); the exit status."""
    if len(argv) not in (2, 3):
        print(USAGE, file=sys.stderr)
        return 2
    import nuke  # noqa: PLC0415 - Nuke's own module (terminal mode)

    from h2h_nuke import host  # noqa: PLC0415 - run as a script: the package is on NUKE_PATH

    try:
        chunk = parse_chunk(argv[2]) if len(argv) == 3 else (None, None)
        nuke.scriptOpen(argv[0])
        group = nuke.toNode(argv[1])
        if group is None or "h2h_node" not in group.knobs():
            raise ValueError(f"{argv[0]} has no Head2Head Group named {argv[1]!r}")
        return host.render_chunk(group, *chunk)
    except (ValueError, RuntimeError) as e:
        print(f"h2h farm: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

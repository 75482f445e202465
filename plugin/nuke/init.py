# Head2Head for Nuke: put this folder on NUKE_PATH and make the engine's `h2h` command reachable (on PATH,
# or set H2H_EXECUTABLE to its full path). Nuke's own Python needs nothing else: the plugin reads the node
# specs from the specs.json it ships (startup never runs the engine) and renders each node in a separate
# engine process; on a farm, `nuke -t h2h_nuke/farm.py SCRIPT.nk GROUP FIRST-LAST` renders one chunk.
import h2h_nuke.build  # noqa: F401  (fails early, at startup, if the plugin folder is incomplete)

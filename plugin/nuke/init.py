# Head2Head for Nuke: put this folder on NUKE_PATH and make the engine's `h2h` command reachable (on PATH,
# or set H2H_EXECUTABLE to its full path). Nuke's own Python needs nothing else: the plugin reads the node
# specs from `h2h specs` and renders each node in a separate engine process (also in `nuke -t` batch mode,
# where `h2h_nuke.build.Job` can be driven directly).
import h2h_nuke.build  # noqa: F401  (fails early, at startup, if the plugin folder is incomplete)

# Head2Head menu: Nodes > Head2Head, one Group per engine node (built from `h2h specs`).
import h2h_nuke.host

h2h_nuke.host.install_menu()

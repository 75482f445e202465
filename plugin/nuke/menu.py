# Head2Head menu: Nodes > Head2Head, one Group per engine node (built from the shipped h2h_nuke/specs.json).
import h2h_nuke.host

h2h_nuke.host.install_menu()

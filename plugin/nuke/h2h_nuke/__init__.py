"""Head2Head for Nuke: Group nodes generated from the engine's node specs, rendering out of process.

``build`` is plain Python (no ``nuke``): knob descriptions, engine commands, output paths and the job
runner. ``host`` holds the thin functions that call ``nuke``; ``farm`` is the ``nuke -t`` entry of a farm
task. ``specs.json`` is the engine's node specs, shipped (``python -m h2h_engine.nodes.snapshot tests/node_specs.json --plugin plugin/nuke/h2h_nuke/specs.json --update``).
"""

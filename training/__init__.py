"""The trainer: per-target training of the Head2Head GAN, evaluation, and their command lines.

Kept in the repository's top-level ``training/`` folder and installed inside the engine as
``h2h_engine.training`` (no top-level ``training`` module). It imports the engine; the engine imports it only
in the train node (``h2h_engine/nodes/train.py``) and for ``h2h eval`` / ``h2h export-generator``, so every
other node runs without it."""

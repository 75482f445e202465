"""Per-target training of the Head2Head GAN, evaluation, and their CLI (imports h2h_engine; never the reverse)."""

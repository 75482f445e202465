"""``python -m h2h_engine ...`` is ``h2h ...``: e.g. ``torchrun --standalone --nproc_per_node 8 -m h2h_engine train
--target T --track T.h2h.npz -o RUN`` runs the train node in every process."""
import sys

from .cli import main

sys.exit(main())

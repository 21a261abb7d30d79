"""``python -m tconv``: the command line (also what ``torchrun -m tconv ...`` runs in every process)."""

from .cli import main

if __name__ == "__main__":
    main()

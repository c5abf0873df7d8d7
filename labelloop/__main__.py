"""``python -m labelloop``: the same command as ``labelloop``."""

from labelloop.cli import main

if __name__ == "__main__":
    main()

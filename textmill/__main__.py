"""`python -m textmill` is the `textmill` command."""

import sys

from textmill.cli import main

sys.exit(main())

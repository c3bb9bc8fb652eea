"""`python -m textmill` is the `textmill` command."""

import sys

try:
    from textmill.cli import main
except KeyboardInterrupt:  # Ctrl-C while starting up: main() handles every later moment
    print("textmill: interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())

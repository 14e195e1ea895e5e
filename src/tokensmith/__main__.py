"""``python -m tokensmith``: the same as the ``tokensmith`` command."""

from tokensmith.cli import main

main()

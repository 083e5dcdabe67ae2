"""`python -m histnet_cli` runs the histnet command (used by `histnet cost` for fresh processes)."""

from .main import main

main()

"""The `histnet` command line, installed as the package ``histnet_cli``."""

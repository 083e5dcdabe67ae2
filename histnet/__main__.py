"""``python -m histnet``: the same command as ``histnet`` (the CLI lives in ``histnet_cli``).

The one module of the package that reaches up to the command line, and only when run.
"""

if __name__ == "__main__":
    from histnet_cli.main import main

    main()

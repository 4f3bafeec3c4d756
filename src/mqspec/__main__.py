"""``python -m mqspec``: the ``mqspec`` command, for environments without the script on PATH."""

from mqspec.conformance.frontends.cli import main

if __name__ == "__main__":
    main(prog_name="mqspec")

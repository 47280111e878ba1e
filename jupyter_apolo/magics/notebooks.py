"""``%apolo notebooks status|pull|push``, ``%apolo commit``, ``%apolo push``.

Owned by the notebooks work; the ``%apolo`` router merges ``SUBCOMMANDS`` into its own.
Each value is ``handler(magics, argv: list[str]) -> object`` (the object is displayed/returned).
"""

SUBCOMMANDS: dict = {}

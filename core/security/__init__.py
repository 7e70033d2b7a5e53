"""The security checks every operation passes before it reaches a sandbox, and every output passes after.

- ``paths``: ``PathPolicy.normalize`` turns a user's or the AI's path into a workspace-relative one or refuses
  it; ``is_within`` lets a backend check a resolved real path.
- ``limits``: size limits, checked before any data moves.
- ``sanitize``: strips terminal control sequences from text before it is shown; makes control characters
  visible where the user must see exactly what was there.
- ``risk``: flags dangerous constructs in code and shell commands for the approval step; never edits code.

Import the submodules themselves (``from core.security.paths import PathPolicy``): this package imports none of
them, so showing a sanitised line does not load the path policy and the risk rules.
"""

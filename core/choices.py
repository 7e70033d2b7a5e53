"""The fixed choices of the settings, in a module with no imports: the command line offers them (``--mode``,
``--backend``) without loading the config model, so the app's first frame does not wait for it."""

from __future__ import annotations

BACKEND_MODES = ("auto", "local", "daytona")
APPROVAL_MODES = ("read-only", "ask", "auto-edit", "full-auto")
RULE_ACTIONS = ("allow", "ask", "deny")
SEARCH_PROVIDERS = ("none", "searxng", "brave", "duckduckgo")  # duckduckgo: accepted, refused with advice
DAYTONA_LANGUAGES = ("python", "typescript", "javascript")
DEFAULT_THEME = "textual-dark"  # Textual's own default

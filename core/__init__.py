"""sandchat's core: the command language, the security checks, the backends and the one pipeline.

Plain Python: nothing under ``core`` imports textual or rich, so it runs and is tested without a terminal.
"""

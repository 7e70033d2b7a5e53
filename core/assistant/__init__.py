"""The AI assistant: model client, tool loop, approvals' front, offline suggestions and history.

Plain Python like the rest of ``core``: the model SDK is imported inside functions, never at module top level.
"""

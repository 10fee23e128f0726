"""Web app and MCP server over an archive (read-only): ``archive serve``, ``archive mcp``."""

from __future__ import annotations

from archive.web.app import create_app, open_read_only
from archive.web.security import check_bind, is_local_host, safe_url

__all__ = ["check_bind", "create_app", "is_local_host", "open_read_only", "safe_url"]

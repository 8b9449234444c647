"""The stylesheet and scripts under chalicelib/static, served under content-hashed names with long caching."""

from __future__ import annotations

import hashlib
from pathlib import Path

from chalice.app import Response

STATIC = Path(__file__).resolve().parent.parent / "static"
TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
_by_hashed: dict[str, Path] | None = None
_hashed_of: dict[str, str] = {}


def _index() -> dict[str, Path]:
    """Hashed name -> file, computed once per container; a changed file gets a new name, so caches never go stale."""
    global _by_hashed
    if _by_hashed is None:
        _by_hashed = {}
        for path in sorted(STATIC.iterdir()):
            if path.suffix not in TYPES:
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            hashed = f"{path.stem}.{digest}{path.suffix}"
            _by_hashed[hashed] = path
            _hashed_of[path.name] = hashed
    return _by_hashed


def asset_path(name: str) -> str:
    """`/static/<stem>.<hash><suffix>` for a file of chalicelib/static (relative to the desk's base URL)."""
    _index()
    return f"/static/{_hashed_of[name]}"


def serve(name: str) -> Response:
    path = _index().get(name)
    if path is None:
        # The desk's JSON error, not text/plain: that is a binary type of the app (text attachments leave as bytes).
        return Response(
            body={"error": {"code": "not_found", "message": "no such file"}},
            status_code=404,
            headers={"Content-Type": "application/json", "Cache-Control": "no-store"},
        )
    return Response(
        body=path.read_text(encoding="utf-8"),
        status_code=200,
        headers={
            "Content-Type": TYPES[path.suffix],
            "Cache-Control": "public, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
        },
    )

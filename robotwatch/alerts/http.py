"""One JSON POST with a time limit, in a worker thread (the standard library's client: no
connection is kept between alerts, which come seconds apart at the most)."""

from __future__ import annotations

import asyncio
import http.client
import urllib.error
import urllib.request
from typing import IO
from urllib.parse import urlsplit

from robotwatch.alerts.delivery import DeliveryError

MAX_REPLY_BYTES = 64 * 1024


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect would turn the POST into a GET without its body: refuse it, loudly."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())  # proxies from the environment still apply


async def post_json(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> None:
    await asyncio.to_thread(_post, url, body, headers, timeout_s)


def _post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> None:
    host = urlsplit(url).netloc
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "robotwatch-alerts", **headers},
    )
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            response.read(MAX_REPLY_BYTES)
    except urllib.error.HTTPError as exc:
        said = exc.read(300).decode(errors="replace").strip()
        if 300 <= exc.code < 400:
            where = exc.headers.get("Location", "?")
            raise DeliveryError(
                f"HTTP {exc.code} from {host}: redirected to {where}; use that URL", True
            ) from None
        # 4xx will be said again (but 408 timeout, 425 too early and 429 slow down will not)
        refused = 400 <= exc.code < 500 and exc.code not in (408, 425, 429)
        raise DeliveryError(f"HTTP {exc.code} from {host}: {said[:300] or exc.reason}", refused) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        why = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise DeliveryError(f"{host}: {type(why).__name__}: {why}") from None

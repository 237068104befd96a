"""What a family downloads to reach the waiting room, counted by Chromium itself
(DevTools Network events): cold, with an empty cache, and warm, the same browser
coming back. Static files must arrive compressed and, the second time, not at all."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import CDPSession, Page, ViewportSize

from tests.conftest import wait_until
from tests.e2e.flows import OpenPage, family_to_waiting_room
from tests.e2e.kota_server import StaffApi
from tests.e2e.page_checks import PHONE, TABLET_PORTRAIT, assert_accessible

pytestmark = pytest.mark.asyncio(loop_scope="session")

COMPRESSIBLE = (".js", ".css", ".json")  # the 151-byte logo may go either way


@dataclass
class Fetch:
    path: str
    status: int = 0
    encoding: str = ""
    cache_control: str = ""
    from_cache: bool = False
    bytes: int = 0  # on the wire, headers included; 0 when the cache answered
    done: bool = False
    canceled: bool = False  # the page dropped it (an image redrawn while loading)


@dataclass
class NetworkLog:
    """Every HTTP request of one page, from ``Network.*`` events (the call socket is
    not an HTTP request there)."""

    fetches: dict[str, Fetch] = field(default_factory=dict)

    def attach(self, cdp: CDPSession) -> None:
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.requestServedFromCache", self._from_cache)
        cdp.on("Network.responseReceived", self._response)
        cdp.on("Network.loadingFinished", self._finished)
        cdp.on("Network.loadingFailed", self._failed)

    def _sent(self, event: dict[str, Any]) -> None:
        url = event["request"]["url"]
        if url.startswith("http"):
            self.fetches[event["requestId"]] = Fetch(urlsplit(url).path)

    def _from_cache(self, event: dict[str, Any]) -> None:
        if fetch := self.fetches.get(event["requestId"]):
            fetch.from_cache = True

    def _response(self, event: dict[str, Any]) -> None:
        if fetch := self.fetches.get(event["requestId"]):
            response = event["response"]
            headers = {k.lower(): v for k, v in response["headers"].items()}
            fetch.status = response["status"]
            fetch.encoding = headers.get("content-encoding", "")
            fetch.cache_control = headers.get("cache-control", "")
            fetch.from_cache |= bool(response.get("fromDiskCache"))

    def _finished(self, event: dict[str, Any]) -> None:
        if fetch := self.fetches.get(event["requestId"]):
            fetch.bytes = int(event.get("encodedDataLength", 0))
            fetch.done = True

    def _failed(self, event: dict[str, Any]) -> None:
        if fetch := self.fetches.get(event["requestId"]):
            fetch.done = True
            fetch.canceled = bool(event.get("canceled"))

    def answered(self) -> list[Fetch]:
        """The requests that got their answer: a canceled one has none, and the browser
        may ask for the tab's icon after the page settled."""
        return [f for f in self.fetches.values() if f.done and not f.canceled]

    async def settled(self) -> None:
        """Wait until every request seen has finished (the waiting room is on screen
        before the last response's end is reported)."""
        await wait_until(lambda: all(f.done for f in self.fetches.values()), timeout=20,
                         what="every request seen to finish")

    def over_network(self) -> list[Fetch]:
        return [f for f in self.fetches.values() if not f.from_cache and f.bytes > 0]

    def summary(self) -> str:
        sent = self.over_network()
        static = [f for f in sent if f.path.startswith("/static/")]
        return (f"{len(self.fetches)} requests, {len(sent)} over the network "
                f"({len(static)} static), {sum(f.bytes for f in sent)} bytes "
                f"({sum(f.bytes for f in static)} static)")


async def visit(page: Page, link: str) -> NetworkLog:
    log = NetworkLog()
    cdp = await page.context.new_cdp_session(page)
    log.attach(cdp)
    await cdp.send("Network.enable")
    await family_to_waiting_room(page, link)
    await log.settled()
    await cdp.detach()
    return log


@pytest.mark.parametrize("viewport", [PHONE, TABLET_PORTRAIT], ids=["phone", "tablet"])
async def test_family_downloads_compressed_files_once(
    open_page: OpenPage, staff_api: Callable[[str], Awaitable[StaffApi]],
    viewport: ViewportSize,
) -> None:
    sanna = await staff_api("sanna")
    appointment = await sanna.appointment(("Aino Niemi", "guardian"))
    link = appointment.links["Aino Niemi"]

    first = await open_page(viewport, name="family")
    cold = await visit(first, link)
    await assert_accessible(first, "the waiting room, from versioned files")
    print(f"\ncold: {cold.summary()}")
    static = [f for f in cold.answered() if f.path.startswith("/static/")]
    assert static, "the page loaded no static files"
    for fetch in static:
        assert fetch.status == 200, (fetch.path, fetch.status)
        assert fetch.path.startswith("/static/v/"), f"{fetch.path} is not a versioned URL"
        assert "immutable" in fetch.cache_control, (fetch.path, fetch.cache_control)
        if fetch.path.endswith(COMPRESSIBLE):
            assert fetch.encoding in ("gzip", "br"), f"{fetch.path} came uncompressed"
    assert any(f.path.endswith(".json") for f in static), "the texts were not fetched"

    # The same phone opens the link again the next day: only the page and the API.
    await first.close()
    second = await first.context.new_page()
    errors: list[str] = []
    second.on("pageerror", lambda error: errors.append(str(error)))
    warm = await visit(second, link)
    await assert_accessible(second, "the waiting room, from the cache")
    print(f"warm: {warm.summary()}")
    assert [f.path for f in warm.answered() if f.path.startswith("/static/")], \
        "the second visit loaded no static files at all"
    refetched = [f.path for f in warm.over_network() if f.path.startswith("/static/")]
    assert not refetched, f"static files fetched again: {refetched}"
    # The page is asked for again (no-cache) and answered 304: headers, no body.
    page = next(f for f in warm.fetches.values() if f.path == "/join")
    cold_page = next(f for f in cold.fetches.values() if f.path == "/join")
    assert 0 < page.bytes < cold_page.bytes
    assert sum(f.bytes for f in warm.over_network()) < sum(f.bytes for f in cold.over_network())
    assert not errors, errors
    await second.close()

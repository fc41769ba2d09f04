"""Which requests count as a person looking: not crawlers, not prefetches.

Crawlers are recognised by their user agent with CrawlerDetect (crawlerdetect, the Python port
of the widely used PHP list, kept up to date with it), which also names headless browsers;
speculative loads by the `Sec-Purpose` / `Purpose` headers browsers send with a prefetch or
prerender. The beacon of the embed adds the third filter by itself: it needs JavaScript.
"""

from __future__ import annotations

from functools import cache

from crawlerdetect import CrawlerDetect
from flask import request


@cache
def _detector() -> CrawlerDetect:
    return CrawlerDetect()  # compiles its patterns once per process


def is_prefetch() -> bool:
    purpose = request.headers.get("Sec-Purpose") or request.headers.get("Purpose") or ""
    return "prefetch" in purpose.lower() or "prerender" in purpose.lower()


def is_crawler() -> bool:
    agent = request.headers.get("User-Agent", "").strip()
    return not agent or bool(_detector().isCrawler(agent[:512]))


def counts_as_person() -> bool:
    """True when this request may be counted as a view or a start."""
    return not is_prefetch() and not is_crawler()

"""A/B test results: views, conversions, rate and the probability that each variant is best.

The probability comes from the Beta-Binomial model: with a uniform prior, a variant's true
conversion rate after `c` conversions in `n` views is Beta(1 + c, 1 + n - c). Drawing from every
variant's posterior many times and counting how often each draw is the highest estimates
P(best) (Monte Carlo, Python's `random.betavariate`: no numerical library needed for a handful
of variants). The generator is seeded with the counts, so a page shows the same figures until
the counts change.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import sqlalchemy as sa

from capture.analytics.counts import PageCount
from capture.base.db import db
from capture.forms.store import FormDefinition
from capture.leads.conversion import ConversionEvent
from magnets.magnet import Magnet
from magnets.variants import LandingVariant, active_variants

DRAWS = 10_000


@dataclass(frozen=True)
class VariantResult:
    variant: LandingVariant
    views: int
    conversions: int
    probability_best: float

    @property
    def rate(self) -> float | None:
        return self.conversions / self.views if self.views else None


def probability_best(counts: list[tuple[int, int]], draws: int = DRAWS) -> list[float]:
    """P(best) for each (views, conversions) pair, by Monte Carlo over Beta posteriors."""
    if not counts:
        return []
    # Not for security: a reproducible simulation, seeded by the data it simulates.
    rng = random.Random(repr(counts))  # noqa: S311  # nosec B311
    params = [(1 + min(c, n), 1 + max(n - c, 0)) for n, c in counts]
    wins = [0] * len(counts)
    for _ in range(draws):
        samples = [rng.betavariate(a, b) for a, b in params]
        wins[samples.index(max(samples))] += 1
    return [w / draws for w in wins]


def views_by_variant(magnet: Magnet) -> dict[str, int]:
    """Views of the landing page by variant, from the analytics counters (keys are never
    reused within a magnet, so all days add up)."""
    rows = db.session.execute(
        sa.select(PageCount.variant, sa.func.sum(PageCount.views))
        .where(PageCount.page == magnet.slug, PageCount.variant.is_not(None))
        .group_by(PageCount.variant)
    )
    return {str(key): int(total or 0) for key, total in rows}


def conversions_by_variant(magnet: Magnet) -> dict[str, int]:
    """Accepted submissions on the magnet's gating forms, by the variant their page showed."""
    variant = ConversionEvent.attribution["variant"].as_string()
    forms = sa.select(FormDefinition.id).where(FormDefinition.magnet == magnet.slug)
    rows = db.session.execute(
        sa.select(variant, sa.func.count())
        .where(ConversionEvent.form_id.in_(forms), variant.is_not(None))
        .group_by(variant)
    )
    return {str(key): int(total) for key, total in rows}


def results(magnet: Magnet) -> list[VariantResult]:
    """The running test's variants with their figures (empty when no test runs)."""
    variants = active_variants(magnet)
    if not variants:
        return []
    views, conversions = views_by_variant(magnet), conversions_by_variant(magnet)
    counts = [(views.get(v.key, 0), conversions.get(v.key, 0)) for v in variants]
    best = probability_best(counts)
    return [
        VariantResult(variant=v, views=n, conversions=c, probability_best=p)
        for v, (n, c), p in zip(variants, counts, best, strict=True)
    ]

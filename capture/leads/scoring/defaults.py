"""The rules in force when `LEADGATE_SCORING_RULES` says nothing: the sources' example."""

from __future__ import annotations

from typing import Any

BANT_FIELDS = ("budget", "authority", "need", "timeline")


# The sources' example: page views +5, pricing or contact page +15, forms, downloads and webinars
# more; idle time takes points away (half-life decay of the engagement part).
DEFAULTS: dict[str, Any] = {
    # Caps (`max` per `per` window): repeats beyond them are recorded with 0 points, so no
    # burst of one rule can make an SQL: its most points in a window plus every fit rule stay
    # below the SQL threshold (tests/test_leads_caps.py checks it).
    "conversions": {
        "newsletter_signup": {"points": 10, "max": 1, "per": "30d"},
        "whitepaper_download": {"points": 20, "max": 2, "per": "1d"},
        "ebook_download": {"points": 20, "max": 2, "per": "1d"},
        "content_download": {"points": 15, "max": 2, "per": "1d"},
        "webinar_registration": {"points": 20, "max": 2, "per": "1d"},
        "webinar_attendance": {"points": 30, "max": 1, "per": "1d"},
        "video_view": {"points": 10, "max": 3, "per": "1d"},
        "contact_request": {"points": 30, "max": 1, "per": "1d"},
        "demo_request": {"points": 40, "max": 1, "per": "1d"},
        "phone_call": {"points": 30, "max": 1, "per": "1d"},
        "sales_email": {"points": 25, "max": 2, "per": "1d"},
        "assessment_request": {"points": 40, "max": 1, "per": "1d"},
    },
    "activities": {
        "page_view": {"points": 5, "max": 10, "per": "1d"},
        "blog_view": {"points": 5, "max": 10, "per": "1d"},
        "pricing_page_view": {"points": 15, "max": 2, "per": "1d"},
        "contact_page_view": {"points": 15, "max": 2, "per": "1d"},
        "download": {"points": 10, "max": 3, "per": "1d"},
        "email_open": {"points": 2, "max": 5, "per": "1d"},
        "email_click": {"points": 5, "max": 5, "per": "1d"},
    },
    # Which activity a page view on the customer's site is (capture/leads/scoring/pages.py).
    "page_rules": {
        "/pricing*": "pricing_page_view",
        "/contact*": "contact_page_view",
        "/blog*": "blog_view",
        "default": "page_view",
    },
    "fit": [
        {
            "name": "senior title",
            "field": "job_title",
            "match": "contains",
            "values": ["ceo", "cto", "cfo", "cmo", "founder", "owner", "director", "direktør",
                       "head of", "vp", "chef", "partner"],
            "points": 15,
        },
        {"name": "manager title", "field": "job_title", "match": "contains",
         "values": ["manager", "leder", "ansvarlig", "ansvarig"], "points": 5},
        {"name": "target company size", "field": "company_size", "match": "equals",
         "values": ["51-200", "201+"], "points": 10},
        {"name": "very small company", "field": "company_size", "match": "equals",
         "values": ["1-10"], "points": -5},
        {"name": "nordic country", "field": "country", "match": "equals",
         "values": ["DK", "SE", "NO", "FI", "IS"], "points": 5},
        {"name": "target industry", "field": "industry", "match": "contains",
         "values": ["software", "saas", "it", "tech"], "points": 5},
    ],
    "decay": {"half_life_days": 60},
    "thresholds": {"mql": 40, "sql": 100},
    "temperature": {"warm": 30, "hot": 70},
    "bant": {
        "require": list(BANT_FIELDS),
        "minimum": 4,
        "negative": ["no", "none", "unknown", "n/a", "na", "-", "not sure", "don't know",
                     "nej", "ingen", "ved ikke", "vet ej", "vet inte", "ukendt", "okänt"],
    },
}  # fmt: skip

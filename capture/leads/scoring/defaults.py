"""The rules in force when `LEADGATE_SCORING_RULES` says nothing: the sources' example."""

from __future__ import annotations

from typing import Any

BANT_FIELDS = ("budget", "authority", "need", "timeline")


# The sources' example: page views +5, pricing or contact page +15, forms, downloads and webinars
# more; idle time takes points away (half-life decay of the engagement part).
DEFAULTS: dict[str, Any] = {
    "conversions": {
        "newsletter_signup": 10,
        "whitepaper_download": 20,
        "ebook_download": 20,
        "content_download": 15,
        "webinar_registration": 20,
        "webinar_attendance": 30,
        "video_view": 10,
        "contact_request": 30,
        "demo_request": 40,
        "phone_call": 30,
        "sales_email": 25,
        "assessment_request": 40,
    },
    "activities": {
        "page_view": 5,
        "blog_view": 5,
        "pricing_page_view": 15,
        "contact_page_view": 15,
        "download": 10,
        "email_open": 2,
        "email_click": 5,
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

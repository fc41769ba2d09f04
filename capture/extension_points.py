"""Every extension point of Leadgate: what is fired, by whom, with what, and who listens.

Read this module to see how the packages hang together. The core (`capture`) never imports
`magnets` or the optional parts of itself it notifies (webhooks, opt-in, metrics); they connect
here in their own `init_app`, and the core fires the point without knowing who listens.

Notifications (blinker signals, Flask's convention; every one runs inside the caller's
transaction and adds rows, never commits):

`submission_accepted` (`Accepted`): an accepted submission, classified and scored.
    fired by: capture.submissions.record.accept
    heard by: capture.ops.metrics (counts it)
              capture.delivery.optin.confirmation (holds delivery, mails the link)
              capture.delivery.webhooks (lead.created, conversion.recorded)
              magnets.gating (issues the download grant)
              capture.tracking (a tracking token in the answer, with tracking consent)
`submission_quarantined` (`Quarantined`): a submission held as spam.
    fired by: capture.submissions.record
    heard by: capture.ops.metrics
`optin_confirmed` (`Confirmed`): a double opt-in confirmed, once per submission.
    fired by: capture.delivery.optin.confirmation.confirm_submission
    heard by: magnets.gating (mails the download link)
`stage_moved` (`StageMoved`): a lead changed stage, whoever moved it.
    fired by: capture.leads.lead.move_stage
    heard by: capture.delivery.webhooks, which first calls capture.routing.route_sql (a new
              SQL gets its owner), then queues stage.changed and the notice to the owner:
              one receiver, because both must see the owner and blinker keeps no order
`owner_changed` (`OwnerChanged`): a lead got another owner (or none).
    fired by: capture.routing.history.set_owner (routing a new SQL, an admin reassigning)
    heard by: capture.delivery.webhooks (lead.owner_changed)
`offline_conversion` (`OfflineConversion`): `POST /api/v1/events` recorded a conversion.
    fired by: capture.api.events
    heard by: capture.delivery.webhooks
`consent_changed` (`ConsentChanged`): a record was appended to the consent ledger (a grant, a
    double opt-in confirmation, a withdrawal), once per record, with the purpose's new state.
    fired by: capture.leads.consent.append_consents, the ledger's only writer, which every
              path calls: capture.submissions.record.accept (consents given on a form),
              capture.delivery.optin.confirmation (the /c/ click), capture.delivery.optin
              .unsubscribe (one-click /u/ POST) and .preferences (the /u/ page)
    heard by: capture.delivery.webhooks (consent.changed)
`lead_erased` (`Erased`): a person was erased; the payload holds no personal data.
    fired by: capture.leads.privacy.erase (after the privacy map has emptied every table)
    heard by: capture.delivery.webhooks (lead.erased)
`timeline_events` (`Lead`): a lead's timeline is shown.
    fired by: capture.backoffice.timeline.events
    heard by: magnets.timeline (downloads, nurture follow-ups)
`demo_filling` (`None`): `leadgate demo` fills an empty database.
    fired by: capture.ops.demo (which adds forms, a partner and the admin itself)
    heard by: magnets.demo (the e-book)

Receivers that change the outcome return a value instead of reaching into shared state:
`submission_accepted` receivers may return a dict of answer fields (magnets gating returns
`{"download_url": ...}`, opt-in `{"confirmation_required": True}`), merged into the answer by
the write path; `timeline_events` receivers return the events they add; `demo_filling`
receivers return the lines to print. Order between receivers never matters: nothing a
receiver does depends on another receiver (blinker gives no order).

What must run in a fixed place is called directly, not hooked: scoring is called by the
submission write path (`capture.submissions.record.accept`) before `submission_accepted`, so
every receiver sees the scored stage and the answer carries it.

A dispatch table, not a signal: `outbox_senders` maps an outbox row's kind to the one
function that delivers it ("email": capture.delivery.outbox, "webhook": capture.delivery.webhooks).
Exactly one sender per kind, and the worker needs its exception to retry or give up.

A second table: `scheduled_tasks` maps a name to a `Scheduled` job (its interval in seconds in
the config key `setting`, 0 = off; `run(now)` returns a line to log) that `leadgate worker` runs
between outbox drains ("privacy-purge": capture.ops.retention, "nurture": magnets.nurturing).
Jobs must be safe when two workers run them at once (unique keys, idempotent erasure): the
worker keeps the schedule per process.

Not an extension point: what erasure and the access export reach. Every model declares its
personal columns in `__privacy__` (capture.base.personal), and capture.leads.privacy walks the
mapped models, magnets' included, so no package has to remember to take part.

Blinker signals are process globals and tests build many apps: every receiver is connected
with `sender=app` and fired with the current app, so one app never hears another's (blinker
holds senders weakly: an app that is collected takes its receivers with it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from blinker import Namespace
from flask import Flask, current_app

if TYPE_CHECKING:  # the payloads' types only: importing them at run time would be a cycle
    from capture.backoffice.timeline import Event
    from capture.delivery.outbox import Sender
    from capture.leads.conversion import ConversionEvent
    from capture.leads.lead import Lead, StageChange
    from capture.routing.history import OwnerChange
    from capture.submissions.intake import Intake
    from capture.submissions.record import Accepted
    from capture.submissions.submission import Submission

P = TypeVar("P")
R = TypeVar("R")

_namespace = Namespace()


class ExtensionPoint(Generic[P, R]):
    """A blinker signal with one typed payload; receivers take the payload and may return R."""

    def __init__(self, name: str, doc: str) -> None:
        self.signal = _namespace.signal(name, doc)
        self.__doc__ = doc

    def connect(self, app: Flask, receiver: Callable[[P], R]) -> None:
        """Call `receiver(payload)` whenever `app` fires this point."""

        def call(sender: Flask, payload: P) -> R:
            return receiver(payload)

        call.__qualname__ = getattr(receiver, "__qualname__", "receiver")
        # Strong reference: the receiver lives as long as the app (blinker drops it with
        # the app, which it holds weakly); a weak one would let a lambda vanish at once.
        self.signal.connect(call, sender=app, weak=False)

    def send(self, payload: P) -> list[R]:
        """Fire for the current app; the receivers' return values, in no particular order."""
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        return [value for _receiver, value in self.signal.send(app, payload=payload)]


@dataclass
class Quarantined:
    """A submission held as spam, with the intake it came from."""

    intake: Intake
    submission: Submission


@dataclass
class Confirmed:
    """A double opt-in just confirmed (fired once per submission, not on a second click)."""

    submission: Submission
    lead: Lead


@dataclass
class StageMoved:
    """One stage change, whoever made it (classification, scoring, the API, the back office)."""

    lead: Lead
    change: StageChange


@dataclass
class OwnerChanged:
    """A change of owner, already applied to the lead (`lead.owner` is the new one)."""

    lead: Lead
    change: OwnerChange


@dataclass
class OfflineConversion:
    """What `POST /api/v1/events` produced, like `Accepted` for a submission."""

    lead: Lead
    lead_created: bool
    conversion: ConversionEvent
    stage_changes: list[StageChange] = field(default_factory=list)
    actor: str = ""


@dataclass
class ConsentChanged:
    """One ledger record appended: `state` is the purpose's state now (`granted`, `pending`
    while a double opt-in is unconfirmed, `withdrawn`), `method` how it was given or taken
    (capture.leads.consent.ConsentMethod), `at` the record's time."""

    lead: Lead
    purpose: str
    state: str
    method: str
    at: datetime


@dataclass
class Erased:
    """A lead erased, by whom; its public id is all that is left to name it."""

    lead_public_id: str
    actor: str


submission_accepted: ExtensionPoint[Accepted, dict[str, Any] | None] = ExtensionPoint(
    "submission-accepted",
    "An accepted submission, scored; receivers may return answer fields to set.",
)
submission_quarantined: ExtensionPoint[Quarantined, None] = ExtensionPoint(
    "submission-quarantined", "A submission held in quarantine as spam."
)
optin_confirmed: ExtensionPoint[Confirmed, None] = ExtensionPoint(
    "optin-confirmed", "A double opt-in confirmed: deliver what confirmation unlocks."
)
stage_moved: ExtensionPoint[StageMoved, None] = ExtensionPoint(
    "stage-moved", "A lead moved along the lifecycle, by anyone."
)
owner_changed: ExtensionPoint[OwnerChanged, None] = ExtensionPoint(
    "owner-changed", "A lead's owner changed, by routing or by a person."
)
offline_conversion: ExtensionPoint[OfflineConversion, None] = ExtensionPoint(
    "offline-conversion", "A conversion recorded through the API, with its stage changes."
)
consent_changed: ExtensionPoint[ConsentChanged, None] = ExtensionPoint(
    "consent-changed", "A consent was granted, confirmed or withdrawn (one ledger record)."
)
lead_erased: ExtensionPoint[Erased, None] = ExtensionPoint(
    "lead-erased", "A person was erased (no personal data in the payload)."
)
timeline_events: ExtensionPoint[Lead, list[Event]] = ExtensionPoint(
    "timeline-events", "A lead's timeline is shown; receivers return the events they add."
)
demo_filling: ExtensionPoint[None, list[str]] = ExtensionPoint(
    "demo-filling", "`leadgate demo` fills the database; receivers return lines to print."
)


class Registry(Generic[R]):
    """A per-app table of named functions: exactly one per name, looked up by the caller."""

    def __init__(self, key: str) -> None:
        self.key = key

    def register(self, app: Flask, name: str, fn: R) -> None:
        app.extensions.setdefault(self.key, {})[name] = fn

    def get(self, name: str) -> R | None:
        found: R | None = current_app.extensions.get(self.key, {}).get(name)
        return found

    def items(self, app: Flask) -> list[tuple[str, R]]:
        """Every registered name and function of `app`, sorted by name."""
        return sorted(app.extensions.get(self.key, {}).items())


@dataclass(frozen=True)
class Scheduled:
    """A job the worker runs every `app.config[setting]` seconds (0 turns it off); `run(now)`
    does the work and returns a line for the log."""

    setting: str
    run: Callable[[datetime], str]


outbox_senders: Registry[Sender] = Registry("leadgate.outbox_senders")
scheduled_tasks: Registry[Scheduled] = Registry("leadgate.scheduled_tasks")

"""Leads: the people captured, their lifecycle, consent ledger and conversion events."""

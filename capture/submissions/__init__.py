"""Submissions: reading them from any channel and recording them in one transaction."""

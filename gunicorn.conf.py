"""`gunicorn` run in a checkout reads this file: the settings are leadgate_gunicorn's.

Installed elsewhere, use `gunicorn -c python:leadgate_gunicorn`; see that module for every setting.
"""

from leadgate_gunicorn import *  # noqa: F403

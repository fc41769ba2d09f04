"""The shared fixtures are plugins in tests/fixtures/, one module per thing they provide; plain
helper functions are in tests/helpers.py (`from helpers import ...`).

The database is SQLite (a file per test) by default, PostgreSQL when TEST_DATABASE_URL is set.
No app context stays open during a test: tests that use the database directly do so in
`with app.app_context():`, and every request gets its own context, as in production.
"""

pytest_plugins = [
    "fixtures.database",  # database_url, empty_database, postgres_schema, sqlite_template
    "fixtures.app",  # app_config, app, client, runner, live_server, serve, rows, api_token, ...
    "fixtures.content",  # make_form, make_magnet, demo_forms, submit
    "fixtures.accounts",  # staff
    # s3_server, smtp_server, make_smtp_server, receiver, partner_site, counting_relay
    "fixtures.services",
    "fixtures.browser",  # browser, chromium
]

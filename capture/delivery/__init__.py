"""What leaves the app: e-mail, the outbox that retries it, webhooks, opt-in e-mails and links."""

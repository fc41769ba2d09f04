"""Running Leadgate: health, liveness, logs, metrics, the outbox worker, the CLI, the demo."""

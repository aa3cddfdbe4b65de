"""The transactional outbox: jobs, the worker that runs them, retries and dead letters."""

"""The running gateway: TAP service, federation, executor, local engine, CLI."""

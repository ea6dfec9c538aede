"""Start-up, wiring and the transports. Only transport modules import a messaging library."""

"""HTTP handlers of the TAP service, one module per resource group."""

"""gp's built-in model plugins, one model per module, each registered by entry point."""

"""The one training path: a per-worker loop that Ray Train runs on every worker."""

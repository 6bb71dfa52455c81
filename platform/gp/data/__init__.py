"""Datasets: in-memory tensors, loaded through the ``register_datasets`` hook."""

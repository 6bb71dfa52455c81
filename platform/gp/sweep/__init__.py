"""``gp sweep``: hyper-parameter search on Ray Tune, every trial an MLflow run.

- :mod:`gp.sweep.space`: search spaces in override syntax and YAML, checked in one line.
- :mod:`gp.sweep.objective`: which metrics a trial logs (losses, ``eval/*`` at epoch ends).
- :mod:`gp.sweep.epoch_eval`: a ``gp eval`` metric on a small sample at each epoch end.
- :mod:`gp.sweep.trial`: one trial (a Tune function that runs a Ray Train fit).
- :mod:`gp.sweep.run`: the driver (Tuner, ASHA or FIFO, the parent run, resume).
- :mod:`gp.sweep.report`: the parent's summary and ``gp runs --sweep ID``.

Searching hyper-parameters before comparing models follows Lucic et al. 2018, "Are GANs
Created Equal? A Large-Scale Study"; early stopping is ASHA (Li et al. 2020, "A System for
Massively Parallel Hyperparameter Tuning"), as Ray Tune implements it.
"""

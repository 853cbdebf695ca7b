"""Training: the one entry point (`trainer.train`), optimizers, strategies, loops, callbacks, tuning.

Nothing is imported here; import the module you need (`from rnnzoo.training.trainer import train`).
"""

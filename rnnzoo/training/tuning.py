"""Hyperparameter search with KerasTuner over a zoo config's `tuning:` section.

The search space is data, in the config itself::

    tuning:
      architecture.cell: [lstm, gru]                          # a choice
      architecture.units: [100, 200]
      architecture.dropout: {min: 0.3, max: 0.6, step: 0.1}  # a float range
      architecture.layers: {min: 1, max: 3}                   # an int range (ints -> Int)
      training.learning_rate: {min: 0.0005, max: 0.005, sampling: log}

Every key is a dotted config key (validated against the schema before the
search starts); a list is a `Choice`, a mapping `{min, max[, step][, sampling:
linear|log|reverse_log]}` an `Int` (when min and max are integers) or a
`Float`. Each trial applies its values as overrides and trains with the one
training entry point (`rnnzoo.train`: the family's own builder, loop,
callbacks and strategy); the objective is the family's validation metric
(`val_f1` for taggers, `val_accuracy` for classifiers), maximised. The
results directory is resumable (run the same command again to continue), and
the best trial's config is written as a YAML file that `rnnzoo train` accepts.
"""

import os

from rnnzoo.config import ZooConfig, apply_overrides, config_from_dict

TUNERS = ("random", "bayesian", "hyperband")


def search_space(tuning):
    """Validate a `tuning:` section; return `[(key, kind, spec)]` (`kind`: choice | int | float)."""
    if not isinstance(tuning, dict) or not tuning:
        raise ValueError(
            "the config has no 'tuning:' section to search; add one mapping dotted config keys to "
            "a list of choices or {min, max, step} / {min, max, sampling: log}."
        )
    space = []
    for key, spec in tuning.items():
        if not isinstance(key, str) or "." not in key:
            raise ValueError(f"tuning key {key!r} must be a dotted config key such as 'architecture.units'.")
        if isinstance(spec, list):
            if not spec:
                raise ValueError(f"tuning.{key}: the list of choices is empty.")
            space.append((key, "choice", list(spec)))
        elif isinstance(spec, dict):
            unknown = set(spec) - {"min", "max", "step", "sampling"}
            if unknown or "min" not in spec or "max" not in spec:
                raise ValueError(
                    f"tuning.{key}: a range needs 'min' and 'max' (optionally 'step', 'sampling'); got {sorted(spec)}."
                )
            low, high = spec["min"], spec["max"]
            for name, value in (("min", low), ("max", high)):
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ValueError(f"tuning.{key}.{name} must be a number, got {value!r}.")
            if low >= high:
                raise ValueError(f"tuning.{key}: min ({low}) must be below max ({high}).")
            sampling = spec.get("sampling", "linear")
            if sampling not in ("linear", "log", "reverse_log"):
                raise ValueError(f"tuning.{key}.sampling must be linear, log or reverse_log, got {sampling!r}.")
            if sampling != "linear" and low <= 0:
                raise ValueError(f"tuning.{key}: log sampling needs min > 0, got {low}.")
            kind = "int" if isinstance(low, int) and isinstance(high, int) and isinstance(spec.get("step", 1), int) else "float"
            space.append((key, kind, dict(spec, sampling=sampling)))
        else:
            raise ValueError(
                f"tuning.{key} must be a list of choices or a {{min, max}} mapping, got {type(spec).__name__}."
            )
    return space


def sample_overrides(hp, space):
    """Draw one trial's `{dotted key: value}` from a KerasTuner `HyperParameters`."""
    overrides = {}
    for key, kind, spec in space:
        if kind == "choice":
            # KerasTuner choices must share one type; index into the list to allow null/mixed values.
            if len({type(v) for v in spec}) == 1 and not isinstance(spec[0], (list, dict, type(None))):
                overrides[key] = hp.Choice(key, spec)
            else:
                labels = [str(v) for v in spec]
                overrides[key] = spec[labels.index(hp.Choice(key, labels))]
        elif kind == "int":
            overrides[key] = hp.Int(key, spec["min"], spec["max"], step=spec.get("step"), sampling=spec["sampling"])
        else:
            overrides[key] = hp.Float(key, spec["min"], spec["max"], step=spec.get("step"), sampling=spec["sampling"])
    return overrides


def _hypermodel_class():
    import keras_tuner as kt

    class ZooHyperModel(kt.HyperModel):
        """Builds each trial's task with its family's builder and trains it with `rnnzoo.train`."""

        def __init__(self, config, data, space, strategy="auto", verbose=0):
            super().__init__(name=config.name, tunable=True)
            self.config, self.data, self.space = config, data, space
            self.strategy, self.verbose = strategy, verbose

        def trial_config(self, hp):
            return config_from_dict(apply_overrides(self.config.to_dict(), sample_overrides(hp, self.space)))

        def build(self, hp):
            from rnnzoo.models import get_family

            config = self.trial_config(hp)
            return get_family(config.family).build(config, self.data)

        def fit(self, hp, model, *args, callbacks=None, epochs=None, initial_epoch=0, **kwargs):
            from rnnzoo.training.trainer import train

            overrides = {}
            if epochs is not None:  # Hyperband's budget for this bracket
                overrides["training.epochs"] = max(1, int(epochs) - int(initial_epoch or 0))
            trained = train(
                self.trial_config(hp),
                strategy=self.strategy,
                overrides=overrides,
                data=self.data,
                callbacks=callbacks,
                verbose=self.verbose,
                task=model,
            )
            return trained.history

    return ZooHyperModel


def tune(
    config,
    *,
    tuner="random",
    max_trials=10,
    directory="tuning",
    project_name=None,
    overrides=None,
    strategy="auto",
    best_config_path=None,
    overwrite=False,
    executions_per_trial=1,
    verbose=0,
    data=None,
    seed=None,
):
    """Search the config's `tuning:` space with KerasTuner; return the best config.

    Args:
        config: a zoo name, YAML path, dict or `ZooConfig`.
        tuner: `"random" | "bayesian" | "hyperband"` (hyperband's `max_epochs`
            is `training.epochs`; `max_trials` bounds the others).
        max_trials: trials to run (random/bayesian).
        directory: results folder; an existing search there is resumed.
        project_name: sub-folder (default: the config name).
        overrides: dotted config keys applied before the search (e.g. a
            shorter `training.epochs` per trial).
        strategy: a strategy name or instance, passed to KerasTuner as its
            `distribution_strategy` (TF backend) and to each trial's training.
        best_config_path: where to write the best config (default
            `<directory>/<project>/best_config.yaml`).
        overwrite: start the search afresh.
        verbose: trial training verbosity.
        data: already loaded raw splits.
        seed: the tuner's seed (default `training.seed`).

    Returns:
        The best trial's `ZooConfig` (its `tuning:` section kept, so it can be tuned again).
    """
    import keras_tuner as kt

    from rnnzoo.models import get_family
    from rnnzoo.training import distribute
    from rnnzoo.zoo import resolve_config

    if tuner not in TUNERS:
        raise ValueError(f"tuner must be one of {', '.join(TUNERS)}, got {tuner!r}.")
    config = resolve_config(config, overrides)
    space = search_space(config.tuning)
    for key, kind, spec in space:  # fail before the search on keys the schema does not know
        value = spec[0] if kind == "choice" else spec["min"]
        config_from_dict(apply_overrides(config.to_dict(), {key: value}))
    family = get_family(config.family)
    data = data if data is not None else family.load_data(config)
    if "validation" not in data:
        raise ValueError(
            "tuning needs a validation split to score trials on: set data.validation "
            "(or data.train_validation_split for families that support it)."
        )
    metric, direction = family.primary_metric
    objective = kt.Objective(f"val_{metric}", direction=direction)
    if isinstance(strategy, str):
        strategy, _ = distribute.resolve_strategy(strategy, verbose=True)
    hypermodel = _hypermodel_class()(config, data, space, strategy=strategy, verbose=verbose)
    common = dict(
        objective=objective,
        directory=directory,
        project_name=project_name or config.name,
        overwrite=overwrite,
        seed=config.training.seed if seed is None else seed,
        distribution_strategy=strategy,
        executions_per_trial=executions_per_trial,
    )
    if tuner == "random":
        search = _tensorboard_optional(kt.RandomSearch)(hypermodel, max_trials=max_trials, **common)
    elif tuner == "bayesian":
        search = _tensorboard_optional(kt.BayesianOptimization)(hypermodel, max_trials=max_trials, **common)
    else:
        search = _tensorboard_optional(kt.Hyperband)(hypermodel, max_epochs=config.training.epochs, factor=3, **common)
    search.search()
    # Ties (common on small validation sets) go to the earliest trial, so a resumed
    # search reports the same best config as the run that wrote it.
    ranked = search.oracle.get_best_trials(len(search.oracle.trials))
    if not ranked:
        raise ValueError("no tuning trial completed; see the trial logs in " + str(directory))
    best_trial = min((t for t in ranked if t.score == ranked[0].score), key=lambda t: t.trial_id)
    best = hypermodel.trial_config(best_trial.hyperparameters)
    path = best_config_path or os.path.join(directory, project_name or config.name, "best_config.yaml")
    write_config(best, path)
    print(f"best trial {best_trial.trial_id}: val_{metric} = {best_trial.score}; config written to {path}")
    return best


def _tensorboard_optional(tuner_class):
    """The tuner class, minus its hard import of `tensorboard` (needed only for its HParams logs)."""

    class Tuner(tuner_class):
        def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
            try:
                import tensorboard  # noqa: F401
            except ImportError:
                return
            return super()._configure_tensorboard_dir(callbacks, trial, execution)

    Tuner.__name__ = tuner_class.__name__
    return Tuner


def write_config(config: ZooConfig, path):
    """Write a config as YAML atomically (temp file + rename)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    config.to_yaml(tmp)
    os.replace(tmp, path)
    return path

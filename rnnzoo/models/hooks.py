"""Family hooks that every family implements the same way."""


def read_splits(data_config, read):
    """`{"train": (xs, ys), "validation": ..., "test": ...}` for the splits a `DataConfig` names.

    `read(path)` returns one file's `(xs, ys)` lists; a split listing several
    files gets them concatenated in order. Splits naming no file are absent.
    """
    from rnnzoo.data.paths import dataset_path, split_files

    splits = {}
    for split in ("train", "validation", "test"):
        for name in split_files(getattr(data_config, split)):
            xs, ys = read(dataset_path(data_config.root, name))
            previous = splits.setdefault(split, ([], []))
            previous[0].extend(xs)
            previous[1].extend(ys)
    if "train" not in splits:
        raise ValueError("data.train must name the training file.")
    return splits


def train_dataset(task, data, config):
    """The task's own raw-data pipeline over the training split."""
    x, y = data["train"]
    return task.make_dataset(x, y, batch_size=config.training.batch_size, training=True)


def validation_callbacks(data, metric):
    """`task.score(...)[metric]` on the validation split after each epoch, logged as `val_<metric>`."""
    if "validation" not in data:
        return []
    from rnnzoo.training.callbacks import ValidationScore

    x, y = data["validation"]
    return [ValidationScore(lambda model: model.score(x, y)[metric], name=f"val_{metric}")]

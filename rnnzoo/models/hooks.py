"""Family hooks that every family implements the same way."""


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

"""`Preprocessor`: the base of the families' preprocessors (raw inputs -> model tensors inside `tf.data`)."""

from rnnzoo.text.vectorizers import StringLayer


class Preprocessor(StringLayer):
    """Raw inputs -> the backbone's tensors, inside `tf.data`; owns the vocabularies.

    A TensorFlow string-op layer (`StringLayer`: raw text works on every Keras
    backend) holding the lookups, saved inside the task's `.keras` file. Its
    hooks tell `Task.make_dataset` how batches are made; the task's own
    `examples` reads raw data into single examples first.

    - `vocabularies()`: `{name: list of str}`, written beside the weights;
    - `example_length(*example)`: a length for bucketing;
    - `bucket_boundaries(**options)`, `example_padding()`: the length buckets
      and the `padding_values` of a batch of examples;
    - `batch_inputs(*batch)`: a padded batch -> `(inputs, targets[, sample_weight])`;
    - `time_axes(labelled)`: the time axis of each tensor `batch_inputs`
      returns (text: axis 1; a (source, target) pair: one per side; images or
      a label per example: None), which JAX pads to a few lengths.
    """

    def vocabularies(self):  # pragma: no cover
        raise NotImplementedError(f"{type(self).__name__} does not list its vocabularies")

    def example_length(self, *example):  # pragma: no cover
        raise NotImplementedError(f"{type(self).__name__} does not measure examples")

    def bucket_boundaries(self, **options):
        """Length-bucket edges of training batches."""
        return (8, 16, 24, 32, 48, 64, 128)

    def example_padding(self):
        """`padding_values` of `padded_batch` for an example (None: zeros / empty strings)."""
        return None

    def batch_inputs(self, *batch):
        """A padded batch of examples -> `(inputs, targets[, sample_weight])` (default: as it is)."""
        return batch

    def time_axes(self, labelled=True):  # pragma: no cover
        """The time axis of each tensor `batch_inputs` returns (a structure like it: an int, or None for none)."""
        raise NotImplementedError(f"{type(self).__name__} does not declare its time axes")

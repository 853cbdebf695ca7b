"""How the tagger batches sentences for training (`TaggerPreprocessor.bucket_boundaries`).

A module of its own, without TensorFlow, so benchmarks/bench_ner_gpu.py reads the same buckets on a JAX machine.
"""

#: Sentence-length bucket edges of training batches (tokens).
BUCKET_BOUNDARIES = (8, 16, 24, 32, 48, 64, 128)

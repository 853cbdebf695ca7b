"""Tiny data, tiny configs and subprocess helpers for the distribution tests.

Every sentence has fewer than 8 tokens, so the tagger's length bucketing puts
all of them in one bucket and a corpus of `k * batch` sentences gives `k` full
batches: single-worker and multi-worker runs then see identical global
batches, which is what lets the tests compare them tightly.
"""

import json
import os
import random
import sys

PEOPLE = ["Pankaj", "Angela", "Maria", "John", "Chen", "Fatima", "Lars", "Ana"]
PLACES = ["Munich", "Paris", "Berlin", "London", "Tokyo", "Lima", "Oslo", "Rome"]
ORGS = ["Siemens", "Google", "Reuters", "Airbus", "Nokia", "Fiat"]
TEMPLATES = [
    (["{P}", "lives", "in", "{L}", "."], ["B-PER", "O", "O", "B-LOC", "O"]),
    (["{P}", "works", "for", "{O}", "."], ["B-PER", "O", "O", "B-ORG", "O"]),
    (["{O}", "opened", "an", "office", "in", "{L}"], ["B-ORG", "O", "O", "O", "O", "B-LOC"]),
    (["{P}", "visited", "{L}"], ["B-PER", "O", "B-LOC"]),
    (["The", "team", "from", "{L}", "won", "."], ["O", "O", "O", "B-LOC", "O", "O"]),
]

POSITIVE = ["great", "wonderful", "loved", "superb", "fun", "brilliant"]
NEGATIVE = ["awful", "boring", "hated", "dull", "bad", "terrible"]


def tiny_sentences(count, seed=0):
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        tokens, tags = rng.choice(TEMPLATES)
        filled = [
            t.format(P=rng.choice(PEOPLE), L=rng.choice(PLACES), O=rng.choice(ORGS)) if "{" in t else t
            for t in tokens
        ]
        out.append((filled, list(tags)))
    return out


def write_conll(path, sentences):
    with open(path, "w", encoding="utf-8") as f:
        f.write("-DOCSTART- -X- -X- O\n\n")
        for tokens, tags in sentences:
            for token, tag in zip(tokens, tags):
                f.write(f"{token} NNP B-NP {tag}\n")
            f.write("\n")
    return str(path)


def tiny_tagger_config(directory, train_sentences=48, batch_size=8, epochs=2, dropout=0.0, validation=False):
    """A 8-unit BiLSTM-CNN-CRF tagger config over a freshly written tiny CoNLL corpus."""
    directory = str(directory)
    os.makedirs(directory, exist_ok=True)
    write_conll(os.path.join(directory, "train.txt"), tiny_sentences(train_sentences, seed=1))
    write_conll(os.path.join(directory, "valid.txt"), tiny_sentences(16, seed=2))
    return {
        "name": "tiny_tagger",
        "family": "tagger",
        "architecture": {
            "cell": "lstm", "units": 8, "embedding_dim": 8, "embeddings": None,
            "char_encoder": "cnn", "char_embedding_dim": 4, "char_units": 4, "max_chars": 8,
            "dropout": dropout,
        },
        "data": {"reader": "conll", "root": directory, "train": "train.txt",
                 "validation": "valid.txt" if validation else None},
        "training": {"optimizer": "adam", "learning_rate": 0.01, "batch_size": batch_size,
                     "epochs": epochs, "seed": 7},
    }


def tiny_classifier_config(directory, train_texts=48, batch_size=8, epochs=2, validation=False):
    """A tiny GRU sentiment classifier config over a freshly written CSV."""
    import csv

    directory = str(directory)
    os.makedirs(directory, exist_ok=True)
    rng = random.Random(3)

    def write(path, count):
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            for i in range(count):
                positive = i % 2 == 0
                words = rng.sample(POSITIVE if positive else NEGATIVE, 2)
                writer.writerow([f"the film was {words[0]} and {words[1]}", "pos" if positive else "neg"])

    write(os.path.join(directory, "train.csv"), train_texts)
    write(os.path.join(directory, "valid.csv"), 16)
    return {
        "name": "tiny_classifier",
        "family": "classifier",
        "architecture": {"cell": "gru", "units": 8, "embedding_dim": 8, "embeddings": None,
                         "dropout": 0.0, "head": "binary"},
        "data": {"reader": "csv", "root": directory, "train": "train.csv",
                 "validation": "valid.csv" if validation else None, "max_length": 16},
        "training": {"optimizer": "adam", "learning_rate": 0.01, "batch_size": batch_size,
                     "epochs": epochs, "seed": 7},
    }


def family_available(name):
    from rnnzoo.models import family_names

    return name in family_names()


def env_for(tf_config=None, logical_cpus=None):
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("TF_CONFIG", None)
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    if logical_cpus:
        env["RNNZOO_LOGICAL_CPUS"] = str(logical_cpus)
    return env


def run_workers(commands_and_envs, timeout):
    """Start processes (niced), wait for all (killing every one on timeout), return `[(rc, output)]`."""
    from rnnzoo.training.worker import run_processes

    return run_processes(commands_and_envs, timeout=timeout, nice=10)


def worker_command(config_path, *args):
    return [sys.executable, "-m", "rnnzoo.training.worker", str(config_path), *args]

"""Classify reviews with a pretrained sentiment model, fine-tune it into a 3-class topic classifier, export it.

    python examples/classify_and_finetune_text.py
"""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import rnnzoo  # noqa: E402

clf = rnnzoo.load("bilstm_imdb")  # offline, checksum-verified; a keras.Model
reviews = ["There is nothing to like in this movie.", "A wonderful, moving film."]
for text, result in zip(reviews, clf.predict(reviews)):
    print(f"{result['label']:9} {result['score']:.3f}  {text}")

# A new task with new labels: the pretrained embeddings and BiLSTM stay, the head is fresh.
topics = clf.with_labels(["Trading", "Sports", "Weather"])
topics.compile(optimizer="adam")
texts = [
    "Market falls into bear territory", "Stocks rally as investors cheer earnings", "Oil prices slide again",
    "Late goal sends the home team through", "The champion retires after a long season", "Coach sacked after defeat",
    "Heavy rain expected over the weekend", "Heatwave breaks records across the south", "Snow closes mountain roads",
] * 8
labels = ["Trading"] * 3 + ["Sports"] * 3 + ["Weather"] * 3
topics.fit(texts, labels * 8, epochs=8, verbose=2)
print(topics.predict(["Shares tumble on Wall Street", "Storm warning for the coast"]))

out = os.path.join(tempfile.mkdtemp(), "topics")
path = topics.export(out)  # out/1/, a SavedModel: serving_default takes a batch of raw strings
print("exported to", path)

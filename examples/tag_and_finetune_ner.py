"""Tag sentences with the pretrained tagger, fine-tune it on a new entity type, export it for serving.

    python examples/tag_and_finetune_ner.py
"""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

import rnnzoo  # noqa: E402

tagger = rnnzoo.load("bilstm_ner")
for result in tagger.predict(["Pankaj lives in Munich", "Ironman punched on hulk's face"]):
    print(result["tokens"], result["tags"])
    for entity in result["entities"]:
        print(f"   {entity['text']!r:20} {entity['type']:5} chars {entity['start']}-{entity['end']} score {entity['score']}")

# A new tag: start from the pretrained weights, add a head row for HERO. One example sentence is one
# optimizer step per epoch: Adam at 3e-3 for 15 epochs tags it with B-HERO on every seed we tried
# (from epoch 8 at the latest, 5 seeds) and keeps PER/LOC; at Keras' default 1e-3 it took up to 22 epochs.
hero = tagger.with_labels(tagger.labels + ["B-HERO", "I-HERO"])
hero.compile(optimizer=keras.optimizers.Adam(learning_rate=0.003))
hero.fit([["Ironman", "punched", "Hulk"]], [["B-HERO", "O", "B-HERO"]], epochs=15, verbose=0)
for sentence in ("Ironman punched Hulk", "Pankaj lives in Munich"):
    print(sentence, "->", hero.predict(sentence)["tags"])
assert hero.predict("Ironman punched Hulk")["tags"] == ["B-HERO", "O", "B-HERO"]
assert hero.predict("Pankaj lives in Munich")["tags"] == ["B-PER", "O", "O", "B-LOC"]

out = os.path.join(tempfile.mkdtemp(), "hero_tagger")
path = hero.export(out)  # out/1/, TF Serving's layout
print("exported to", path)

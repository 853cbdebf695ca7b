"""Tag sentences with the pretrained tagger, fine-tune it on a new entity type, export it for serving.

    python examples/tag_and_finetune_ner.py
"""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import rnnzoo  # noqa: E402

tagger = rnnzoo.load("bilstm_ner")
for result in tagger.predict(["Pankaj lives in Munich", "Ironman punched on hulk's face"]):
    print(result["tokens"], result["tags"])
    for entity in result["entities"]:
        print(f"   {entity['text']!r:20} {entity['type']:5} chars {entity['start']}-{entity['end']} score {entity['score']}")

# A new tag: start from the pretrained weights, add a head row for HERO.
hero = tagger.with_labels(tagger.labels + ["B-HERO", "I-HERO"])
hero.compile(optimizer="adam")
tokens = [["Ironman", "punched", "Hulk"], ["Thor", "met", "Pankaj", "in", "Munich"]] * 16
tags = [["B-HERO", "O", "B-HERO"], ["B-HERO", "O", "B-PER", "O", "B-LOC"]] * 16
hero.fit(tokens, tags, epochs=5, verbose=2)
print(hero.predict("Thor met Pankaj in Munich")["tags"])

out = os.path.join(tempfile.mkdtemp(), "hero_tagger")
hero.export(out)
print("exported to", out)

"""Language modelling end to end: perplexity, the next word, generated text, fine-tuning, export.

    python examples/generate_text.py                          # the shipped vanilla_rnn_ptb
    python examples/generate_text.py --model char_lstm_shakespeare --prompt "ROMEO:"
    python examples/generate_text.py --finetune my_text.txt   # continue training on your own text (one line a sentence)

Every step is one call on the `keras.Model` that `rnnzoo.load` returns:
`perplexity` (per text and overall), `predict_next` (the most probable next
tokens), `generate` (greedy, beam, top-k, top-p; seeded), `fit` on raw
text (truncated BPTT: the state is carried across batches), `export` (a
SavedModel whose `serving_default` continues raw prompts).
"""

import argparse
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vanilla_rnn_ptb", help="zoo name or artifact folder")
    parser.add_argument("--prompt", default=None, help="prompt (default: one fitting the model's level)")
    parser.add_argument("--max-length", type=int, default=None, help="tokens to generate")
    parser.add_argument("--finetune", default=None, help="a text file to continue training on (one epoch)")
    parser.add_argument("--export", default=None, help="also export a SavedModel to this folder")
    args = parser.parse_args(argv)

    import rnnzoo

    lm = rnnzoo.load(args.model)
    char = lm.preprocessor.level == "char"
    prompt = args.prompt or ("ROMEO:" if char else "the company said")
    max_length = args.max_length or (200 if char else 25)

    text = "the company said it expects to report a loss" if not char else "To be, or not to be: that is the question."
    result = lm.perplexity([text, prompt])
    print(f"perplexity of {text!r}: {result['per_text'][0]}  (both texts: {result['perplexity']})")
    print(f"next after {prompt!r}:", lm.predict_next(prompt, top_k=5))
    for sampler, options in (("greedy", {}), ("beam", {"num_beams": 4}), ("top_k", {"k": 10, "seed": 1}),
                             ("top_p", {"p": 0.9, "temperature": 0.8, "seed": 1})):
        print(f"\n[{sampler}] {prompt}", lm.generate(prompt, max_length=max_length, sampler=sampler, **options))

    if args.finetune:
        with open(args.finetune, encoding="utf-8") as f:
            lines = f.read().splitlines(keepends=char)
        before = lm.score(lines)["perplexity"]
        lm.fit(lines, epochs=1, batch_size=8)
        print(f"\nperplexity on {args.finetune}: {before} -> {lm.score(lines)['perplexity']} after one epoch")

    path = lm.export(args.export or os.path.join(tempfile.mkdtemp(), "lm"), max_length=max_length, verbose=False)
    import tensorflow as tf

    served = tf.saved_model.load(path)
    out = served.signatures["serving_default"](prompt=tf.constant([prompt]))
    print(f"\nSavedModel at {path}: {out['continuation'].numpy()[0].decode()!r}")


if __name__ == "__main__":
    main()

"""Latency of one `predict` call on one text, the app case (CPU, TensorFlow backend).

For each shipped model: the first call after `rnnzoo.load`, then medians of
warm calls with the small-batch XLA path (`small_batch_xla`, compiled on a
background thread, waited for here) and without it. For classifiers also
the raw-string preprocessing alone, run eagerly (as before session 6) and
as the traced function `predict` now uses. Side by side in one run.

    python benchmarks/bench_latency.py --calls 50
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

TEXTS = {
    "tagger": "Angela Merkel met Emmanuel Macron in Paris on Monday to discuss the European Union budget .",
    "classifier": (
        "This movie was a wonderful surprise : the cast is great , the plot moves along nicely , and the ending "
        "is moving without being sentimental . I would happily watch it again with friends ."
    ),
}


def median_ms(fn, calls):
    from bench_ner import median_time  # this folder is on sys.path when the script runs

    return 1000 * median_time(fn, calls)


def measure(name, calls):
    import tensorflow as tf

    import rnnzoo

    model = rnnzoo.load(name)
    family = "tagger" if hasattr(model, "output_tags") else "classifier"
    text = TEXTS[family]
    start = time.perf_counter()
    model.predict([text])
    first = 1000 * (time.perf_counter() - start)
    fn = model._emissions_fn() if family == "tagger" else model._probabilities_fn()
    fn.compiles.wait()
    row = {"model": name, "words": len(text.split()), "first": first}
    row["xla"] = median_ms(lambda: model.predict([text]), calls)
    model.small_batch_xla = False
    row["plain"] = median_ms(lambda: model.predict([text]), calls)
    model.small_batch_xla = True
    if family == "classifier":
        row["eager"] = median_ms(lambda: model.preprocessor(tf.constant([text])).flat_values.numpy(), calls)
        row["traced"] = median_ms(lambda: model.token_ids([text]), calls)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="bilstm_ner,bilstm_imdb,bigru_sst2,vanilla_rnn_sst2")
    parser.add_argument("--calls", type=int, default=50, help="warm calls per median")
    args = parser.parse_args(argv)
    rows = [measure(name, args.calls) for name in args.models.split(",")]
    print(f"\nmedians of {args.calls} calls; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}\n")
    print("| model | words | first call ms | warm ms, XLA | warm ms, no XLA | preprocess ms, eager | preprocess ms, traced |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        pre = f"{r['eager']:.2f} | {r['traced']:.2f}" if "eager" in r else "- | -"
        print(f"| {r['model']} | {r['words']} | {r['first']:.0f} | {r['xla']:.2f} | {r['plain']:.2f} | {pre} |")


if __name__ == "__main__":
    main()

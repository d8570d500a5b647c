"""Times Python feed parsers on one feed file, for Verbatim's `parse` benchmark.

Usage: peer_parse.py FILE ROUNDS. Prints one JSON object: for each parser that is installed,
the median seconds of ROUNDS full parses of the file (after one warm-up), and the number of
entries it found. feedparser also sanitizes HTML, like Verbatim; fastfeedparser does not.
"""

import json
import statistics
import sys
import time


def median_seconds(parse, data, rounds):
    parse(data)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        parse(data)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main():
    path, rounds = sys.argv[1], int(sys.argv[2])
    with open(path, "rb") as handle:
        data = handle.read()
    results = {}
    try:
        import feedparser

        entries = len(feedparser.parse(data).entries)
        results["feedparser " + feedparser.__version__] = {
            "seconds": median_seconds(feedparser.parse, data, rounds),
            "entries": entries,
        }
    except ImportError:
        pass
    try:
        import fastfeedparser

        entries = len(fastfeedparser.parse(data).entries)
        version = getattr(fastfeedparser, "__version__", "")
        results[("fastfeedparser " + version).strip()] = {
            "seconds": median_seconds(fastfeedparser.parse, data, rounds),
            "entries": entries,
        }
    except ImportError:
        pass
    print(json.dumps(results))


if __name__ == "__main__":
    main()

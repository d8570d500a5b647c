"""End-to-end ingest with the Python `reader` library, for Verbatim's `ingest` benchmark.

Usage: peer_ingest.py DB URLS_FILE WORKERS WORD. Makes a new reader database at DB, adds every
feed URL listed in URLS_FILE (one a line), then update_feeds(workers=WORKERS), enable_search()
and update_search(): the same end state as Verbatim's (every entry stored and full-text
searchable). Prints one JSON object: reader's version, how many feeds and entries it stored, how
many entries a search for WORD (a word every generated item carries) finds, the seconds of each
step, and the process's peak resident memory (ru_maxrss, KiB).
"""

import json
import resource
import sys
import time


def main():
    started = time.perf_counter()
    import reader

    path, urls_file, workers, word = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    with open(urls_file, encoding="utf-8") as handle:
        urls = [line.strip() for line in handle if line.strip()]
    steps = {}

    def step(name, action):
        began = time.perf_counter()
        action()
        steps[name] = time.perf_counter() - began

    db = reader.make_reader(path)
    step("add_feed", lambda: [db.add_feed(url) for url in urls])
    step("update_feeds", lambda: db.update_feeds(workers=workers))
    step("enable_search", db.enable_search)
    step("update_search", db.update_search)
    total = time.perf_counter() - started
    broken = [feed.url for feed in db.get_feeds() if feed.last_exception]
    report = {
        "reader": reader.__version__,
        "feeds": len(urls),
        "broken_feeds": broken[:5],
        "entries": db.get_entry_counts().total,
        "searchable": db.search_entry_counts(word).total,
        "steps": steps,
        "seconds": total,
        "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    db.close()
    print(json.dumps(report))


if __name__ == "__main__":
    main()

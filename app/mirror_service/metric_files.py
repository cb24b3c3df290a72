"""Keeping prometheus_client's multiprocess directory bounded when gunicorn replaces workers.

Each worker writes its counters and histograms to `<type>_<pid>.db` in PROMETHEUS_MULTIPROC_DIR, and a
scrape adds up every file there. `multiprocess.mark_process_dead` removes only a dead worker's live-gauge
files; its counter files must stay (their counts are part of the totals) and so would pile up, one set
per worker ever started, making every scrape slower. Instead the master folds a dead worker's values into
one `<type>_merged.db` per type and deletes its files: the directory holds the live workers' files plus
at most one merged file per type, and the totals stay the same. (The merged name parses like any other:
MultiProcessCollector reads the type from the part before the first "_".)
"""

from __future__ import annotations

import os

from prometheus_client import multiprocess
from prometheus_client.mmap_dict import MmapedDict

# Types whose values add up across processes (a histogram's buckets, sum and count included).
_SUMMED_TYPES = ("counter", "histogram", "summary")


def merge_dead_worker(directory: str, pid: int) -> None:
    """Fold the dead worker `pid`'s summed metrics into the merged files, then remove its files.

    Runs in the gunicorn master (child_exit), which writes no metrics itself.
    """
    multiprocess.mark_process_dead(pid, directory)
    for kind in _SUMMED_TYPES:
        dead = os.path.join(directory, f"{kind}_{pid}.db")
        if not os.path.exists(dead):
            continue
        merged = MmapedDict(os.path.join(directory, f"{kind}_merged.db"))
        try:
            for key, value, timestamp, _ in MmapedDict.read_all_values_from_file(dead):
                total, _ = merged.read_value(key)
                merged.write_value(key, total + value, timestamp)
        finally:
            merged.close()
        os.remove(dead)

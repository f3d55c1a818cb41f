"""Shared by the scenario tests: run backstop on a capture, join its events
with the generator's truth, order statistics, and the generated sections
of docs/scenarios.md."""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "gen"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import compare_events  # noqa: E402
import run_variant  # noqa: E402

HOME_NET = "192.0.2.0/24"
HOME_DOMAIN = "home.example"
DROP_ACTIONS = ("drop-session", "drop-source")
BOUNCE_CLASSES = ("legit-bounce", "backscatter", "suspect-bounce")
SKIP = 77


def corpus_present(corpus_dir):
    if os.path.isfile(os.path.join(corpus_dir, "manifest.tsv")):
        return True
    print("SKIP: no corpus at %s (../shared is absent in a fresh clone)" % corpus_dir)
    return False


def backstop_events(backstop, pcap, events, extra=(), eal=""):
    """Runs backstop (home net and domain set) and returns its events;
    raises RuntimeError with backstop's own message when it fails."""
    args = ["--home-domain", HOME_DOMAIN] + list(extra)
    rc, err = run_variant.run_backstop(backstop, pcap, [HOME_NET], events, eal, extra=args)
    if rc != 0:
        raise RuntimeError("backstop exited with %d:\n%s" % (rc, err[-3000:]))
    counters = dict(re.findall(r"^\s*(detect\.[\w.-]+)\s+(\d+)\s*$", err, re.M))
    m = re.search(r"(\d+) worker\(s\)", err)
    counters["workers"] = m.group(1) if m else "0"
    m = re.search(r"^backstop: the capture port stopped after .*$", err, re.M)
    counters["port_stopped"] = m.group(0) if m else ""
    return [o for _, o in compare_events.load_jsonl(events, "event")], counters


def joined(truth_path, events):
    """[(truth entry, event)] for every truth entry; the event is None when
    backstop wrote none for it. Extra events are returned separately."""
    truth = [o for _, o in compare_events.load_jsonl(truth_path, "truth") if "_meta" not in o]
    by_key = {}
    for e in events:
        by_key.setdefault(compare_events.key_of(e), e)
    keys = {compare_events.key_of(t) for t in truth}
    extra = [e for e in events if compare_events.key_of(e) not in keys]
    return [(t, by_key.get(compare_events.key_of(t))) for t in truth], extra


def vclass(e):
    return (e or {}).get("verdict", {}).get("class") or "missing"


def pct(a, b):
    return 100.0 * a / b if b else 0.0


def quantile(sorted_vals, q):
    """Nearest-rank quantile (q in 0..1) of an ascending list."""
    if not sorted_vals:
        return None
    k = max(0, min(len(sorted_vals) - 1, int(-(-q * len(sorted_vals) // 1)) - 1))
    return sorted_vals[k]


def write_section(doc, name, text):
    """Replaces the text between <!-- BEGIN name --> and <!-- END name -->
    in doc (the markers must exist: the page's prose is written by hand)."""
    with open(doc, encoding="utf-8") as f:
        page = f.read()
    begin, end = "<!-- BEGIN %s -->" % name, "<!-- END %s -->" % name
    i, j = page.find(begin), page.find(end)
    if i < 0 or j < i:
        raise ValueError("%s: markers for section '%s' not found" % (doc, name))
    page = page[:i + len(begin)] + "\n" + text.rstrip("\n") + "\n" + page[j:]
    with open(doc, "w", encoding="utf-8") as f:
        f.write(page)
    print("wrote section '%s' of %s" % (name, doc))

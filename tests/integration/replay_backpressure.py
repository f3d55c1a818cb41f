#!/usr/bin/python3
"""Replay back-pressure: a replay records every transaction even when the
event writer falls behind. The events go into a FIFO that nobody reads for
the first 2 seconds, so the writer blocks and holds records, while
`--bench 1000` of the sample capture (5 transactions per loop) needs more
records than the worker's pool has (4,096): the worker must wait for
records to come back instead of dropping transactions.

  replay_backpressure.py BACKSTOP SAMPLE_PCAP WORKDIR
"""
import os
import subprocess
import sys
import threading
import time

LOOPS = 1000
PER_LOOP = 5


def main():
    backstop, pcap, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    fifo = os.path.join(work, "events.fifo")
    if os.path.exists(fifo):
        os.unlink(fifo)
    os.mkfifo(fifo)
    lines = []

    def reader():
        # opened at once (backstop's open of the FIFO waits for a reader),
        # read only after 2 s: the writer blocks on the full pipe meanwhile
        with open(fifo, "rb") as f:
            time.sleep(2)
            for line in f:
                lines.append(line)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        r = subprocess.run([backstop, "-l", "0", "--no-huge", "-m", "1024", "--", "--pcap", pcap,
                            "--bench", str(LOOPS), "--events", fifo],
                           capture_output=True, text=True, timeout=300)
    finally:
        t.join(timeout=60)
        os.unlink(fifo)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        print("FAIL: backstop exited %d" % r.returncode)
        return 1
    counters = {}
    for l in r.stderr.splitlines():
        parts = l.split()
        if len(parts) == 2 and parts[1].isdigit():
            counters[parts[0]] = int(parts[1])
    want = LOOPS * PER_LOOP
    fails = []
    if counters.get("smtp.transactions") != want:
        fails.append("smtp.transactions %s, want %d" % (counters.get("smtp.transactions"), want))
    if counters.get("txn_no_record", 0) != 0:
        fails.append("txn_no_record %d: transactions dropped while the writer was behind"
                     % counters["txn_no_record"])
    if len(lines) != want:
        fails.append("%d event lines, want %d" % (len(lines), want))
    for f in fails:
        print("FAIL: " + f)
    if not fails:
        print("ok: %d transactions, %d events, none dropped" % (want, len(lines)))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())

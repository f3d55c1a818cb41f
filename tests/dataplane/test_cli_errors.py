#!/usr/bin/python3
"""backstop refuses bad input before any DPDK set-up, with exit code 2 and a
message that names the file and line or the option at fault."""
import os
import subprocess
import sys
import tempfile

backstop, sample = sys.argv[1], sys.argv[2]
failures = 0


def expect(args, needle, what):
    global failures
    r = subprocess.run([backstop] + args, capture_output=True, text=True, timeout=60)
    ok = r.returncode == 2 and needle in r.stderr and "EAL" not in r.stderr
    print(("ok: " if ok else "FAIL: ") + what + ("" if ok else " (rc %d, stderr %r)" % (r.returncode, r.stderr)))
    failures += not ok


with tempfile.TemporaryDirectory() as d:
    bad = os.path.join(d, "bad.rules")
    with open(bad, "w") as f:
        f.write("# ok so far\nrule 7 nowhere bounce-header 50 \"x\" \"bad scope\"\n")
    expect(["--pcap", sample, "--rules", bad], bad + ":2:", "a bad rule file is reported as FILE:LINE")
    expect(["--pcap", os.path.join(d, "missing.pcap")], "missing.pcap", "a missing capture is named")
    notpcap = os.path.join(d, "notpcap.pcap")
    with open(notpcap, "wb") as f:
        f.write(b"this is not a capture")
    expect(["--pcap", notpcap], "notpcap.pcap", "a file that is not a capture is named")
    expect(["--pcap", sample, "--home-net", "10.0.0.0/99"], "10.0.0.0/99", "a bad HOME_NET prefix is named")
    expect(["--pcap", sample, "--frobnicate"], "--frobnicate", "an unknown option is named")
    expect(["--", "--pcap", sample, "--smtp-ports", "25,0"], "--smtp-ports", "options after -- are checked too")
sys.exit(1 if failures else 0)

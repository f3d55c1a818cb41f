#!/usr/bin/python3
"""backstopctl's enforcer commands on bad input and bad environments: each
case must fail with its exit code (2 usage, 1 runtime) and a message that
names the problem, and never crash.

usage: cli_errors.py BACKSTOPCTL    (root; exits 77 to skip otherwise)"""
import json
import os
import shutil
import subprocess
import sys

SFX = str(os.getpid())
PIN = "/sys/fs/bpf/bs-test-cli-" + SFX
failures = []


def run(args, env_extra=None, prefix=()):
    env = dict(os.environ, BACKSTOP_BPF_PIN=PIN)
    env.update(env_extra or {})
    return subprocess.run(list(prefix) + [CTL] + args, capture_output=True, text=True, env=env, timeout=60)


def case(args, rc, needle, prefix=(), env_extra=None):
    r = run(args, env_extra, prefix)
    out = r.stdout + r.stderr
    ok = r.returncode == rc and needle.lower() in out.lower()
    print("%s %-60s rc=%d %s" % ("ok  " if ok else "FAIL", " ".join(args)[:60], r.returncode,
                                 out.strip().splitlines()[0] if out.strip() else ""))
    if not ok:
        failures.append((args, r.returncode, out))
        print("     wanted rc=%d and %r in:\n%s" % (rc, needle, out))


def cleanup():
    if os.path.isdir(PIN):
        for f in os.listdir(PIN):
            os.unlink(os.path.join(PIN, f))
        os.rmdir(PIN)


def main():
    global CTL
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    CTL = os.path.abspath(sys.argv[1])
    if os.geteuid() != 0:
        print("SKIP: needs root")
        return 77
    try:
        # missing interface, nothing attached
        case(["xdp", "attach", "nosuch0"], 1, "interface 'nosuch0' not found")
        case(["xdp", "detach", "nosuch0"], 1, "not found")
        case(["xdp", "attach", "lo", "--mode", "turbo"], 2, "native or generic")
        case(["xdp", "attach"], 2, "usage")
        case(["xdp", "frobnicate"], 2, "unknown subcommand")
        case(["xdp", "stats", "--pin-dir"], 2, "--pin-dir needs a directory")
        # malformed prefixes and numbers
        case(["allow", "add", "10.0.0.300/8"], 2, "malformed prefix")
        case(["allow", "add", "10.0.0.1/24"], 2, "host bits set (did you mean 10.0.0.0/24?)")
        case(["allow", "add", "10.0.0.0/33"], 2, "length must be 0..32")
        case(["allow", "add", "2001:db8::/129"], 2, "length must be 0..128")
        case(["allow", "add", "10.0.0.0/"], 2, "length must be")
        case(["allow", "add", "/8"], 2, "malformed prefix")
        case(["allow", "del", "192.0.2.0/24"], 1, "not on the allow-list")
        case(["verdict", "add", "source-drop", "banana", "--ttl", "5"], 2, "not an ipv4 or ipv6 address")
        case(["verdict", "add", "source-drop", "192.0.2.0/24"], 2, "--ttl seconds is required")
        case(["verdict", "add", "source-drop", "192.0.2.0/24", "--ttl", "-5"], 2, "not a number of seconds")
        case(["verdict", "add", "source-drop", "192.0.2.0/24", "--ttl"], 2, "--ttl seconds is required")
        case(["verdict", "add", "source-shape", "192.0.2.0/24", "--ttl", "5"], 2, "--rate pps and --burst n are required")
        case(["verdict", "add", "source-shape", "192.0.2.0/24", "--ttl", "5", "--rate", "0", "--burst", "3"], 2, "--rate '0'")
        case(["verdict", "add", "session", "192.0.2.1", "70000", "192.0.2.2", "25", "--ttl", "5"], 2, "port '70000'")
        case(["verdict", "add", "session", "192.0.2.1", "1000", "2001:db8::1", "25", "--ttl", "5"], 2, "same ip version")
        case(["verdict", "add", "session", "192.0.2.1", "1000", "--ttl", "5"], 2, "needs src sport dst dport")
        case(["verdict", "add", "everything", "--ttl", "5"], 2, "usage")
        case(["verdict", "del", "session", "192.0.2.1", "1000", "192.0.2.2", "25"], 1, "no such entry")
        case(["verdict", "list", "sessions"], 2, "is not session, source-drop or source-shape")
        # the good path of the same commands, so the failures above are not vacuous
        case(["verdict", "add", "source-drop", "192.0.2.0/24", "--ttl", "5"], 0, "")
        case(["verdict", "list", "source-drop"], 0, "source-drop 192.0.2.0/24 ttl 5s")
        case(["verdict", "add", "source-shape", "2001:db8::/32", "--ttl", "0", "--rate", "10", "--burst", "5"], 0, "")
        case(["verdict", "list"], 0, "source-shape 2001:db8::/32 rate 10 burst 5 ttl never")
        # JSON forms parse and carry the entries and counters
        r = run(["verdict", "list", "--json"])
        rows = [json.loads(l) for l in r.stdout.splitlines()]
        ok = r.returncode == 0 and {x["kind"] for x in rows} == {"source-drop", "source-shape"} and \
            any(x.get("prefix") == "2001:db8::/32" and x["rate_pps"] == 10 and x["ttl_s"] == -1 for x in rows)
        print("%s verdict list --json: %d rows" % ("ok  " if ok else "FAIL", len(rows)))
        if not ok:
            failures.append(("verdict list --json", r.returncode, r.stdout + r.stderr))
        r = run(["xdp", "stats", "--json"])
        try:
            st = json.loads(r.stdout)
            ok = r.returncode == 0 and "drop_session" in st["counters"] and "packets" in st["counters"]["pass_allow"]
        except ValueError:
            ok = False
        print("%s xdp stats --json" % ("ok  " if ok else "FAIL"))
        if not ok:
            failures.append(("xdp stats --json", r.returncode, r.stdout + r.stderr))
        case(["verdict", "flush"], 0, "removed 2 entries")
        # pin directory not on a bpffs
        case(["verdict", "list", "--pin-dir", "/tmp/bs-not-bpffs-" + SFX + "/x"], 1, "is not on a bpffs")
        case(["verdict", "list", "--pin-dir", "relative/dir"], 1, "must be an absolute path")
        # no privileges
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]
        case(["verdict", "list"], 1, "needs root", prefix=nobody)
        case(["xdp", "stats"], 1, "needs root", prefix=nobody)
        case(["xdp", "attach", "lo"], 1, "needs root", prefix=nobody)
        # no bpffs: in a private mount namespace without /sys/fs/bpf mounted,
        # root gets it mounted; an unprivileged user gets a clear error
        if shutil.which("unshare"):
            script = 'umount /sys/fs/bpf 2>/dev/null; exec "$@"'
            un = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh"]
            case(["verdict", "list", "--pin-dir", "/sys/fs/bpf/backstop"], 0, "", prefix=un)
            un_nobody = un + nobody
            case(["verdict", "list", "--pin-dir", "/sys/fs/bpf/backstop"], 1, "no bpffs on /sys/fs/bpf", prefix=un_nobody)
    finally:
        cleanup()
    print("%d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

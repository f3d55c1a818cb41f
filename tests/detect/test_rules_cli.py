#!/usr/bin/python3
"""backstopctl rules check|compile|dump|scan, as an operator uses them.

Every file in test_rules_data/bad/ whose first line is
    # expect [@OTHER_FILE] LINE: MESSAGE
must make `rules check` exit 1 and print, as its first line of stderr,
"FILE:LINE: " (FILE is OTHER_FILE when the error is in an included file;
LINE 0 means "FILE: ") followed by text containing MESSAGE.
Then: compile/dump/scan of the good set, bundle corruption and usage errors.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "test_rules_data")
failures = []


def run(ctl, *args):
    p = subprocess.run([ctl] + list(args), capture_output=True, text=True, errors="replace")
    return p.returncode, p.stdout, p.stderr


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def bad_files(ctl):
    bad = os.path.join(DATA, "bad")
    n = 0
    for name in sorted(os.listdir(bad)):
        path = os.path.join(bad, name)
        if not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            first = f.readline().decode("utf-8", "replace").rstrip("\r\n")
        m = re.match(r"^# expect (?:@(\S+) )?(\d+): (.*)$", first)
        if not m:
            continue
        n += 1
        where = os.path.join(bad, m.group(1)) if m.group(1) else path
        line = int(m.group(2))
        prefix = "%s:%d: " % (where, line) if line else "%s: " % where
        rc, out, err = run(ctl, "rules", "check", path)
        first_err = err.splitlines()[0] if err else ""
        check(rc == 1, "%s: exit %d, expected 1" % (name, rc))
        check(first_err.startswith(prefix), "%s: '%s' does not start with '%s'" % (name, first_err, prefix))
        check(m.group(3) in first_err, "%s: '%s' does not contain '%s'" % (name, first_err, m.group(3)))
    check(n >= 35, "only %d bad files found" % n)
    print("bad rule files: %d checked" % n)


def multiple_errors(ctl, tmp):
    # check reports every error, not only the first
    p = os.path.join(tmp, "multi.rules")
    with open(p, "w") as f:
        f.write('rule 1 bogus delay 1 "x" "a"\nrule 2 body nosignal 1 "x" "b"\nrule 3 body delay 1 /(/ "c"\n')
    rc, out, err = run(ctl, "rules", "check", p)
    lines = err.splitlines()
    check(rc == 1 and len(lines) == 3, "multi: expected 3 error lines, got %r" % lines)
    check([l.split(": ")[0] for l in lines] == ["%s:%d" % (p, i) for i in (1, 2, 3)], "multi: lines %r" % lines)


def good_set(ctl, tmp):
    good = os.path.join(DATA, "good", "main.rules")
    rc, out, err = run(ctl, "rules", "check", good)
    check(rc == 0, "check good: exit %d: %s" % (rc, err))
    check("rules," in out and "stream state per transaction" in out, "check good: summary missing: %s" % out)
    for scope in ("helo", "mail_from", "rcpt_to", "headers", "body", "orig_headers", "dsn", "header:subject"):
        check(re.search(r"^%s\s+\d+\s+\d+" % re.escape(scope), out, re.M), "check good: no line for %s" % scope)

    # a UTF-8 byte order mark and CRLF line ends are accepted
    rc, out, err = run(ctl, "rules", "check", os.path.join(DATA, "good", "bom.rules"))
    check(rc == 0 and ": 1 rules," in out, "BOM + CRLF: %d %s %s" % (rc, out, err))

    bundle = os.path.join(tmp, "good.bsr")
    rc, out, err = run(ctl, "rules", "compile", good, "-o", bundle)
    check(rc == 0 and os.path.exists(bundle), "compile: exit %d: %s" % (rc, err))
    rc, out, err = run(ctl, "rules", "dump", bundle)
    check(rc == 0, "dump: exit %d: %s" % (rc, err))
    check("bundle %s (format 1" % bundle in out, "dump: no bundle line")
    check("generic x86-64" in out, "dump: default bundle is not generic")
    for rid in ("101", "102", "201", "301"):
        check(re.search(r"^%s\s" % rid, out, re.M), "dump: rule %s missing" % rid)
    native = os.path.join(tmp, "native.bsr")
    rc, out, err = run(ctl, "rules", "compile", good, "-o", native, "--native")
    check(rc == 0, "compile --native: %s" % err)
    rc, out, err = run(ctl, "rules", "dump", native)
    check(rc == 0 and "native x86-64" in out, "dump native: %s %s" % (out[:200], err))

    # scan: the sample bounce matches the expected rules, both from the
    # rule file and from the bundle, in --tsv and human forms
    msg = os.path.join(DATA, "msgs", "postfix-bounce.eml")
    for src in (good, bundle, native):
        rc, out, err = run(ctl, "rules", "scan", "--tsv", src, msg)
        check(rc == 0, "scan %s: %s" % (src, err))
        ids = set(out.strip().split("\t")[1].split(",")) if "\t" in out else set()
        check(ids == {"101", "102", "201", "301", "401", "501", "802"}, "scan %s: ids %s" % (src, sorted(ids)))
    rc, out, err = run(ctl, "rules", "scan", "--tsv", "--helo", "mx7.example.org", "--mail-from", "MAILER-DAEMON@x.org",
                       "--rcpt-to", "prvs=0123456789=bob@example.org", bundle, msg)
    ids = set(out.strip().split("\t")[1].split(",")) if "\t" in out else set()
    check(rc == 0 and {"601", "602", "603"} <= ids, "scan with envelope: %s %s" % (out, err))
    rc, out, err = run(ctl, "rules", "scan", bundle, msg)
    check(rc == 0 and re.search(r'rule 101 "Postfix bounce subject" bounce-header \+50 \(header:subject at byte \d+\)', out),
          "scan human form: %s" % out)
    rc, out, err = run(ctl, "rules", "scan", "--bench", "3", bundle, msg)
    check(rc == 0 and out.startswith("bench: 1 messages") and re.search(r"hyperscan all +[0-9.]+ MB/s", out)
          and re.search(r"\((\d+) matches\)", out) and re.search(r"\((\d+) matches\)", out).group(1) == "21",
          "scan --bench (7 rules x 3 rounds = 21 matches): %s %s" % (out, err))
    rc, out, err = run(ctl, "rules", "scan", bundle, os.path.join(tmp, "missing.eml"))
    check(rc == 1 and "cannot read message file" in err, "scan missing file: %d %s" % (rc, err))
    return bundle


def bundles(ctl, tmp, bundle):
    data = open(bundle, "rb").read()
    # one flipped byte in the payload
    bad = os.path.join(tmp, "flipped.bsr")
    b = bytearray(data)
    b[len(b) // 2] ^= 0xFF
    open(bad, "wb").write(bytes(b))
    rc, out, err = run(ctl, "rules", "dump", bad)
    check(rc == 1 and "corrupt bundle (checksum mismatch)" in err, "flipped: %d %s" % (rc, err))
    # truncated
    trunc = os.path.join(tmp, "trunc.bsr")
    open(trunc, "wb").write(data[:len(data) - 100])
    rc, out, err = run(ctl, "rules", "dump", trunc)
    check(rc == 1 and "truncated bundle" in err, "truncated: %d %s" % (rc, err))
    # header only
    open(trunc, "wb").write(data[:10])
    rc, out, err = run(ctl, "rules", "dump", trunc)
    check(rc == 1 and err.startswith(trunc + ": "), "header only: %d %s" % (rc, err))
    # another format version
    ver = os.path.join(tmp, "v99.bsr")
    b = bytearray(data)
    b[8:12] = (99).to_bytes(4, "little")
    open(ver, "wb").write(bytes(b))
    rc, out, err = run(ctl, "rules", "dump", ver)
    check(rc == 1 and "bundle format version 99, this build reads version 1" in err, "version: %d %s" % (rc, err))
    # compile into a directory that does not exist
    rc, out, err = run(ctl, "rules", "compile", os.path.join(DATA, "good", "main.rules"), "-o",
                       os.path.join(tmp, "no", "such", "dir.bsr"))
    check(rc == 1 and "cannot create" in err, "unwritable: %d %s" % (rc, err))


def usage(ctl):
    for args in (["rules"], ["rules", "nope"], ["rules", "check"], ["rules", "compile", "x"],
                 ["rules", "dump"], ["rules", "scan", "x"], ["rules", "scan", "--bench", "0", "a", "b"]):
        rc, out, err = run(ctl, *args)
        check(rc == 2 and "usage:" in err, "usage %s: %d %s" % (args, rc, err))
    rc, out, err = run(ctl, "rules", "check", "/nonexistent/x.rules")
    check(rc == 1 and err.startswith("/nonexistent/x.rules: cannot open: No such file"), "missing top file: %s" % err)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: test_rules_cli.py BACKSTOPCTL")
    ctl = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="bs-rules-cli-")
    try:
        bad_files(ctl)
        multiple_errors(ctl, tmp)
        bundle = good_set(ctl, tmp)
        bundles(ctl, tmp, bundle)
        usage(ctl)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d failures" % len(failures))
        return 1
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

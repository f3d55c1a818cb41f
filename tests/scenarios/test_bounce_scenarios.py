#!/usr/bin/python3
"""Self-test of tests/gen/bounce_scenarios.py on synthetic bounces (no
corpus needed): the original is found in each form, the sender rewrite
touches only the sender's address, the relay hop lands in the original's
header block, and before_last agrees with the segments the session really
sends (counted independently from the conversation's DATA segments)."""
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "gen"))
import bounce_scenarios as bs  # noqa: E402
import variants  # noqa: E402
from pcapwriter import Endpoint  # noqa: E402
from smtpgen import SmtpSession, Txn  # noqa: E402
import corpus  # noqa: E402

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what)


def crlf(s):
    return s.replace("\n", "\r\n").encode()


RFC822 = crlf("""From: MAILER-DAEMON@mx.remote.example
To: alice@victim.example
Subject: Undelivered
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

Mail to bob@remote.example failed. xalice@victim.example.org is someone else.
--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.remote.example

Final-Recipient: rfc822;
 bob@remote.example
Original-Recipient: rfc822;bob@remote.example
Action: failed
Status: 5.1.1

--b
Content-Type: message/rfc822

Received: from a by b
Message-ID: <m1@victim.example>
From: Alice <alice@victim.example>
To: bob@remote.example
Subject: hi

body
--b--
""")

HEADERS = RFC822.replace(b"Content-Type: message/rfc822", b"Content-Type: text/rfc822-headers")

INLINE = crlf("""From: MAILER-DAEMON@mx.remote.example
To: alice@victim.example
Subject: failure notice

Hi. This is the qmail-send program. Sorry, it did not work out.
<bob@remote.example>: no mailbox here by that name.

--- Below this line is a copy of the message.

Return-Path: <alice@victim.example>
Message-ID: <m3@victim.example>
From: alice@victim.example
To: bob@remote.example

text
""")

SELF = INLINE.replace(b"To: bob@remote.example", b"To: alice@victim.example")


def test_original():
    for raw, how in ((RFC822, "rfc822"), (HEADERS, "headers"), (INLINE, "inline")):
        o = bs.original_of(raw)
        check(o is not None and o["how"] == how, "%s original found: %s" % (how, o))
        if o:
            check(o["sender"] == "alice@victim.example" and o["to"] == ["bob@remote.example"],
                  "%s sender/to: %s" % (how, o))
    check(bs.original_of(crlf("From: a@b\nSubject: x\n\nno original here\n")) is None, "no original")
    check(bs.dsn_recipients(RFC822) == ["bob@remote.example"], "DSN recipients: %s" % bs.dsn_recipients(RFC822))


def test_rewrite():
    out = bs.rewrite_sender(RFC822, "alice@victim.example", "u1@home.example")
    check(b"alice@victim.example>" not in out and out.count(b"u1@home.example") == 2,
          "every sender occurrence rewritten")
    check(b"xalice@victim.example.org" in out, "a longer address containing the sender is left alone")
    check(out.replace(b"u1@home.example", b"alice@victim.example") == RFC822, "nothing else changes")
    out = bs.rewrite_sender(SELF, "alice@victim.example", "u2@home.example", self_sent=True)
    check(b"To: u2@home.example\r\nSubject" in out, "self-sent: the NDR's own To rewritten")
    check(b"From: u2@home.example" in out and b"Return-Path: <u2@home.example>" in out,
          "self-sent: sender fields rewritten")
    check(out.count(b"To: alice@victim.example") == 1, "self-sent: the original's recipient stays")


def test_relay_hop():
    for raw in (RFC822, INLINE):
        o = bs.original_of(raw)
        out = bs.add_relay_hop(raw, o)
        check(out is not None, "relay hop inserted")
        if out:
            o2 = bs.original_of(out)
            check(o2 and o2["first_field"] == "Received" and o2["msgid"] == o["msgid"],
                  "hop is the original's first field: %s" % o2)
            check(out.index(b"192.0.2.25") > out.index(b"\r\n\r\n"), "hop is not in the NDR's own header")


def test_before_last():
    rng = random.Random(3)
    for seg in (1460, 536, 100):
        for n in range(30):
            lines = [b"." * rng.randrange(0, 3) + b"x" * rng.randrange(0, 300) for _ in range(rng.randrange(1, 40))]
            raw = b"Subject: t\r\n\r\n" + b"\r\n".join(lines) + b"\r\n"
            s = SmtpSession(Endpoint("198.51.100.1", 1234), Endpoint("192.0.2.1", 25), "h",
                            [Txn("", [("u@home.example", 250)], corpus._Raw(raw))], rng, variants.HOME_NETS,
                            body_seg=seg)
            body = [x for x in s.conv.segments() if x.tag == "body"]
            head = b"".join(x.payload for x in body[:-1])
            # unstuff independently: a line starting with ".." lost one dot
            unstuffed = b"\r\n".join(l[1:] if l.startswith(b".") else l for l in head.split(b"\r\n"))
            want = min(len(raw), len(unstuffed))
            got, stuffed = bs._before_last(raw, seg)
            check(got == want and stuffed == sum(len(x.payload) for x in body),
                  "before_last seg %d msg %d: %d, segments say %d" % (seg, n, got, want))


def test_errors():
    try:
        bs.scenario_build("/nonexistent", "nonsense")
        check(False, "unknown scenario rejected")
    except ValueError as e:
        check("unknown scenario" in str(e), "unknown scenario message: %s" % e)


for t in (test_original, test_rewrite, test_relay_hop, test_before_last, test_errors):
    t()
print("bounce_scenarios self-test: %d failures" % len(failures))
sys.exit(1 if failures else 0)

#!/usr/bin/python3
"""Bounce scenarios built from the real NDRs of ../shared/corpus (library
and CLI), for the detection acceptance tests (tests/scenarios/,
docs/scenarios.md).

Two kinds of capture:

corpus (--envelope normal|swapped): every corpus message in its own
  inbound session, as corpus.py builds them, but with the envelope chosen
  here: "normal" is corpus.py's (ndr with MAIL FROM:<>, the rest with an
  ordinary sender), "swapped" the other way round (ndr with an ordinary
  sender, ham/spam/auto-replies/challenges with <>).

backscatter (--scenario matched|unmatched|active|relay-legit|relay-forged):
  every corpus NDR that returns its original (a message/rfc822 or
  message/global part, a text/rfc822-headers part, or header lines quoted
  inline in a text bounce: Message-ID, From/Return-Path, To) is addressed
  to its own home mailbox u<N>@home.example:
    - the NDR is rewritten so that the bounced sender is that mailbox: every
      occurrence of the original's sender address (Return-Path, else From)
      becomes u<N>@home.example; nothing else of the NDR changes;
    - it arrives inbound, outside client -> home server, MAIL FROM:<>,
      RCPT TO:<u<N>@home.example>, by DATA in 1460- or 536-byte segments.
  matched:      before the NDRs, each original leaves OUTBOUND through the
                home relay 192.0.2.25 to an outside server: MAIL FROM the
                home mailbox, RCPT TO every recipient the NDR names (the
                DSN's Original-/Final-Recipient, X-Failed-Recipients, the
                original's To/Cc), the message carrying the original's
                Message-ID, From, To, Subject and Date.
  unmatched:    the same NDRs, no outbound mail at all (forged senders).
  active:       the same NDRs; each home mailbox first sent one unrelated
                message (another Message-ID, a recipient in another domain),
                so "this user sent nothing" cannot decide and the verdict
                waits for the original's identifiers.
  relay-legit:  the NDRs of "unmatched" with one Received line prepended to
                the original's header block, the hop from the home relay
                (relay.home.example [192.0.2.25]) to the remote MX.
  relay-forged: the NDRs of "unmatched" unchanged (the original claims the
                home sender but its Received chain never names the relay).

Truth entries carry "_corpus" {file, class, hint} and, for scenario NDRs,
"_scen" {role, seg, stuffed_size, before_last, orig_how, msgid, doc_net}:
before_last is the number of message bytes (after dot-unstuffing) carried
by the DATA segments before the last one; doc_net says the corpus file
itself carries 192.0.2.x addresses (RFC 5737 documentation addresses, which
anonymised samples use), i.e. our home net appears in its Received lines.

  bounce_scenarios.py corpus CORPUS_DIR OUT.pcap OUT.truth [--envelope E]
  bounce_scenarios.py backscatter CORPUS_DIR OUT.pcap OUT.truth --scenario S
"""
import argparse
import email
import email.policy
import email.utils
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import corpus  # noqa: E402
import variants  # noqa: E402
from pcapwriter import Endpoint  # noqa: E402
from smtpgen import SmtpSession, Txn, dot_stuff  # noqa: E402

HOME_DOMAIN = "home.example"
RELAY_IP = "192.0.2.25"
RELAY_HOST = "relay.home.example"
SCENARIOS = ("matched", "unmatched", "active", "relay-legit", "relay-forged")
MAX_OUT_RCPT = 16


def _hint(row):
    """The manifest's source-system hint without the names of dropped
    duplicates ("also-sisimai:...")."""
    h = row.get("mta_or_source_hint", "")
    h = h.split("also-sisimai:", 1)[0].strip().rstrip(";").strip()
    return h or "(none)"


def _read(corpus_dir, row):
    with open(os.path.join(corpus_dir, row["file"]), "rb") as f:
        return corpus.wire_form(corpus._strip_mbox(f.read()))


# ---------------------------------------------------------------- corpus

def corpus_build(corpus_dir, envelope="normal", seed=5):
    """corpus.build with the envelope chosen by `envelope`."""
    if envelope not in ("normal", "swapped"):
        raise ValueError("unknown envelope '%s' (normal, swapped)" % envelope)
    g = variants.Gen(seed, "corpus-" + envelope)
    rng = g.rng
    built = []
    for i, r in enumerate(corpus.load_manifest(corpus_dir)):
        raw = _read(corpus_dir, r)
        null = (r["class"] == "ndr") == (envelope == "normal")
        sender = "" if null else "sender%d@corpus.example" % i
        rcpt = [("rcpt%d@home.example" % i, 250)]
        if i % 5 == 4:
            n = len(raw)
            cuts = sorted(rng.sample(range(1, n), min(n - 1, rng.randrange(0, 3))))
            chunks = [b - a for a, b in zip([0] + cuts, cuts + [n])]
            txn = Txn(sender, rcpt, corpus._Raw(raw), mode="bdat", chunks=chunks)
        else:
            txn = Txn(sender, rcpt, corpus._Raw(raw))
        s = g.plain_session("inbound", txns=[txn], body_seg=rng.choice([1460, 1460, 536]))
        for t in s.truth:
            t["_corpus"] = {"file": r["file"], "class": r["class"], "hint": _hint(r)}
        built.append(variants.Built(s, s.conv.segments()))
    return g, built


def corpus_generate(corpus_dir, pcap, truth, envelope="normal"):
    g, built = corpus_build(corpus_dir, envelope)
    packets = variants.write_capture(pcap, built, g.rng, interleave=True)
    return packets, variants.write_truth(truth, "corpus-" + envelope, built, packets)


# ------------------------------------------------- the returned original

_HDR = re.compile(rb"^([!-9;-~]+):[ \t]*(.*)$")
_QUOTE = re.compile(rb"^([ \t>|]*)")


def _addrs(values):
    out = []
    for _name, a in email.utils.getaddresses([v for v in values if v]):
        a = a.strip().strip("<>")
        if "@" in a and a.lower() not in (x.lower() for x in out):
            out.append(a)
    return out


def _header_facts(hdrs, how):
    """hdrs: [(name, value str)] of the original's header block."""
    def first(name):
        for k, v in hdrs:
            if k.lower() == name:
                return v
        return None
    mid = first("message-id")
    mid = mid.strip().split()[0] if mid and mid.strip() else None
    frm = _addrs([first("return-path")]) or _addrs([first("from")])
    to = _addrs([v for k, v in hdrs if k.lower() in ("to", "cc")])
    if not mid and not (frm and to):
        return None
    return {"how": how, "msgid": mid, "sender": frm[0] if frm else None, "to": to,
            "subject": first("subject"), "date": first("date"), "first_field": hdrs[0][0]}


def _hdr_pairs(msg):
    return [(k, str(v)) for k, v in msg.items()]


def _inline_block(text):
    """The first run of quoted header lines carrying the original's
    identifiers in a text bounce: [(name, value)], or None."""
    lines = text.split(b"\n")
    best = None
    i = 0
    while i < len(lines):
        run, j = [], i
        while j < len(lines):
            ln = lines[j].rstrip(b"\r")
            body = ln[len(_QUOTE.match(ln).group(1)):]
            m = _HDR.match(body)
            if m:
                run.append((m.group(1).decode("latin-1"), m.group(2).decode("latin-1")))
            elif run and ln[:1] in (b" ", b"\t") and ln.strip():
                k, v = run[-1]
                run[-1] = (k, v + " " + ln.strip().decode("latin-1"))
            else:
                break
            j += 1
        names = {k.lower() for k, _ in run}
        if len(run) >= 2 and ("message-id" in names or ({"from", "return-path"} & names and "to" in names)):
            best = run
            if not {"from", "return-path"} & names:
                # the run broke off on an unindented continuation line
                # (GMX folds this way): the sender may follow in the same
                # block, before its blank line
                for ln in lines[j:]:
                    ln = ln.rstrip(b"\r")
                    if not ln.strip():
                        break
                    m = _HDR.match(ln[len(_QUOTE.match(ln).group(1)):])
                    if m and m.group(1).lower() in (b"from", b"return-path"):
                        best = run + [(m.group(1).decode("latin-1"), m.group(2).decode("latin-1"))]
                        break
            break
        i = j + 1 if j == i else j
    return best


def original_of(raw):
    """Facts of the original a corpus NDR returns, or None:
    {how, msgid, sender, to [...], subject, date, first_field}."""
    top = email.message_from_bytes(raw, policy=email.policy.compat32)
    found = {}
    for part in top.walk():
        if part is top:
            continue
        ct = part.get_content_type()
        if ct in ("message/rfc822", "message/global") and "rfc822" not in found:
            pl = part.get_payload()
            if isinstance(pl, list) and pl:
                f = _header_facts(_hdr_pairs(pl[0]), "rfc822")
            else:
                b = part.get_payload(decode=True) or b""
                f = _header_facts(_hdr_pairs(email.message_from_bytes(b, policy=email.policy.compat32)), "rfc822")
            if f:
                found["rfc822"] = f
        elif ct == "text/rfc822-headers" and "headers" not in found:
            b = part.get_payload(decode=True) or b""
            f = _header_facts(_hdr_pairs(email.message_from_bytes(b, policy=email.policy.compat32)), "headers")
            if f:
                found["headers"] = f
    for how in ("rfc822", "headers"):
        if how in found:
            return found[how]
    # legacy text bounce: header lines quoted in a text part (or the body)
    texts = [p.get_payload(decode=True) or b"" for p in top.walk()
             if not p.is_multipart() and p.get_content_maintype() == "text"]
    for t in texts:
        run = _inline_block(t)
        if run:
            return _header_facts(run, "inline")
    return None


def dsn_recipients(raw):
    """Every recipient the NDR names: DSN Original-/Final-Recipient and
    X-Failed-Recipients."""
    top = email.message_from_bytes(raw, policy=email.policy.compat32)
    vals = [v for v in top.get_all("X-Failed-Recipients") or []]
    for part in top.walk():
        if part.get_content_type() not in ("message/delivery-status", "message/global-delivery-status"):
            continue
        groups = part.get_payload()
        if not isinstance(groups, list):
            continue
        for grp in groups:
            for name in ("Original-Recipient", "Final-Recipient"):
                for v in grp.get_all(name) or []:
                    v = re.sub(r"\s+", " ", str(v)).strip()
                    vals.append(v.split(";", 1)[1].strip() if ";" in v else v)
    return _addrs(vals)


def rewrite_sender(raw, sender, home, self_sent=False):
    """Every occurrence of the bounced sender's address becomes the home
    mailbox (the NDR goes back to the sender; nothing else changes). When
    the original was sent to its own sender (self_sent), only the sender
    fields (Return-Path, From, Sender, Reply-To) and the NDR's own To field
    change, so the failed recipient stays a remote address."""
    if not sender:
        return raw
    pat = re.compile(rb"(?<![\w.+=-])" + re.escape(sender.encode("latin-1", "replace")) + rb"(?![\w-]|\.\w)",
                     re.IGNORECASE)
    if not self_sent:
        return pat.sub(home.encode(), raw)
    fields = re.compile(rb"(?im)^([ \t>|]*(?:return-path|from|sender|reply-to):[^\r\n]*)")
    out = fields.sub(lambda m: pat.sub(home.encode(), m.group(1)), raw)
    end = out.find(b"\r\n\r\n")
    end = len(out) if end < 0 else end
    top = re.compile(rb"(?im)^(to:[^\r\n]*)").sub(lambda m: pat.sub(home.encode(), m.group(1)), out[:end])
    return top + out[end:]


def add_relay_hop(raw, orig):
    """Prepends, to the original's header block inside the NDR, the hop
    from the home relay to the remote MX (with the block's quoting). None
    when the block cannot be found."""
    top_end = raw.find(b"\r\n\r\n")
    name = orig["first_field"].encode("latin-1")
    m = re.compile(rb"(?im)^([ \t>|]*)" + re.escape(name) + rb":").search(raw, top_end + 4)
    if not m:
        return None
    prefix = m.group(1)
    hop = (b"Received: from %s (%s [%s])\r\n%s\tby mx.remote.example with ESMTP id 4AbC1d2EfG;\r\n"
           b"%s\tMon, 16 Nov 2026 12:00:00 +0000\r\n"
           % (RELAY_HOST.encode(), RELAY_HOST.encode(), RELAY_IP.encode(), prefix, prefix))
    return raw[:m.start()] + prefix + hop + raw[m.start():]


# --------------------------------------------------- scenario captures

def _before_last(msg_raw, seg):
    """Message bytes (dot-unstuffed) carried by the DATA segments before
    the last one, and the stuffed size."""
    stuffed = dot_stuff(msg_raw)
    last_start = (len(stuffed) - 1) // seg * seg
    head = stuffed[:last_start]
    # every stuffed line that starts with "." carries one added dot
    dots = len(re.findall(rb"(?:^|(?<=\r\n))\.", head))
    return max(0, min(len(msg_raw), last_start - dots)), len(stuffed)


def _outbound_message(orig, home, rcpts, n):
    hdrs = []
    if orig.get("date"):
        hdrs.append("Date: %s" % orig["date"])
    hdrs.append("From: <%s>" % home)
    hdrs.append("To: %s" % ", ".join("<%s>" % a for a in (orig["to"] or rcpts[:1])))
    hdrs.append("Subject: %s" % (orig.get("subject") or "(no subject)"))
    if orig.get("msgid"):
        hdrs.append("Message-ID: %s" % orig["msgid"])
    hdrs += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=us-ascii"]
    head = "\r\n".join(h.replace("\r", " ").replace("\n", " ") for h in hdrs).encode("utf-8", "replace")
    body = b"Hello,\r\n\r\nthe message as it left the home relay (scenario %d).\r\n" % n
    return head + b"\r\n\r\n" + body


class _Seq:
    """Unique endpoints for the scenario sessions."""

    def __init__(self):
        self.k = 0

    def outbound(self):
        self.k += 1
        return (Endpoint(RELAY_IP, 1024 + self.k % 60000),
                Endpoint("203.0.113.%d" % (10 + self.k % 200), 25))

    def inbound(self):
        self.k += 1
        return (Endpoint("198.51.100.%d" % (10 + self.k % 200), 1024 + (self.k * 977) % 60000),
                Endpoint("192.0.2.%d" % (100 + self.k % 100), 25))


def scenario_items(corpus_dir):
    """[(row, n, home, rewritten NDR, original facts, recipients)] for every
    corpus NDR that returns its original; and the count of NDRs without."""
    items, without = [], 0
    for n, r in enumerate(corpus.load_manifest(corpus_dir)):
        if r["class"] != "ndr":
            continue
        raw = _read(corpus_dir, r)
        orig = original_of(raw)
        if not orig:
            without += 1
            continue
        home = "u%d@%s" % (n, HOME_DOMAIN)
        self_sent = bool(orig["sender"]) and orig["sender"].lower() in (
            a.lower() for a in orig["to"] + dsn_recipients(raw))
        ndr = rewrite_sender(raw, orig["sender"], home, self_sent)
        orig = original_of(ndr) or orig       # facts as the rewritten NDR shows them
        rcpts = dsn_recipients(ndr)
        for a in orig["to"]:
            if a.lower() not in (x.lower() for x in rcpts):
                rcpts.append(a)
        rcpts = [a for a in rcpts if a.lower() != home.lower()][:MAX_OUT_RCPT]
        orig["doc_net"] = b"192.0.2." in raw     # the corpus's own (RFC 5737) addresses
        items.append((r, n, home, ndr, orig, rcpts))
    return items, without


def scenario_build(corpus_dir, scenario, seed=7):
    if scenario not in SCENARIOS:
        raise ValueError("unknown scenario '%s' (%s)" % (scenario, ", ".join(SCENARIOS)))
    g = variants.Gen(seed, "scen-" + scenario)
    rng = g.rng
    seq = _Seq()
    items, without = scenario_items(corpus_dir)
    pre, ndrs, skipped = [], [], []
    for r, n, home, ndr, orig, rcpts in items:
        if scenario == "relay-legit":
            ndr2 = add_relay_hop(ndr, orig)
            if ndr2 is None:
                skipped.append(r["file"])
                continue
            ndr = ndr2
        if scenario == "matched":
            # an NDR that names no recipient still answers a message that
            # went somewhere; its Message-ID is what ties them together
            rcpts = rcpts or ["recipient%d@remote.example" % n]
            cl, sv = seq.outbound()
            out = corpus._Raw(_outbound_message(orig, home, rcpts, n))
            s = SmtpSession(cl, sv, RELAY_HOST, [Txn(home, [(a, 250) for a in rcpts], out)], rng,
                            variants.HOME_NETS)
            for t in s.truth:
                t["_corpus"] = {"file": r["file"], "class": "ndr", "hint": _hint(r)}
                t["_scen"] = {"role": "outbound"}
            pre.append(variants.Built(s, s.conv.segments()))
        elif scenario == "active":
            cl, sv = seq.outbound()
            m = g.message(frm="<%s>" % home, to="<friend%d@elsewhere.example>" % n, lines=3)
            s = SmtpSession(cl, sv, RELAY_HOST, [Txn(home, [("friend%d@elsewhere.example" % n, 250)], m)],
                            rng, variants.HOME_NETS)
            for t in s.truth:
                t["_scen"] = {"role": "outbound"}
            pre.append(variants.Built(s, s.conv.segments()))
        cl, sv = seq.inbound()
        seg = rng.choice([1460, 1460, 536])
        msg = corpus._Raw(ndr)
        s = SmtpSession(cl, sv, "mx%d.bounce.example" % n, [Txn("", [(home, 250)], msg)], rng,
                        variants.HOME_NETS, body_seg=seg)
        before, stuffed = _before_last(ndr, seg)
        for t in s.truth:
            t["_corpus"] = {"file": r["file"], "class": "ndr", "hint": _hint(r)}
            t["_scen"] = {"role": "ndr", "seg": seg, "stuffed_size": stuffed, "before_last": before,
                          "orig_how": orig["how"], "msgid": orig["msgid"], "home": home,
                          "doc_net": orig["doc_net"],
                          "out_rcpts": len(rcpts)}
        ndrs.append(variants.Built(s, s.conv.segments()))
    meta = {"ndr_with_original": len(items), "ndr_without_original": without, "skipped": skipped,
            "outbound": len(pre)}
    return g, pre + ndrs, meta


def scenario_generate(corpus_dir, pcap, truth, scenario):
    """Writes the capture (outbound sessions first, then the NDRs, one
    session after another) and its truth; returns (packets, entries, meta)."""
    g, built, meta = scenario_build(corpus_dir, scenario)
    packets = variants.write_capture(pcap, built, g.rng, interleave=False)
    n = variants.write_truth(truth, "scen-" + scenario, built, packets)
    return packets, n, meta


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["corpus", "backscatter"])
    ap.add_argument("corpus_dir")
    ap.add_argument("pcap")
    ap.add_argument("truth")
    ap.add_argument("--envelope", default="normal")
    ap.add_argument("--scenario", default="unmatched")
    a = ap.parse_args()
    try:
        if a.kind == "corpus":
            p, n = corpus_generate(a.corpus_dir, a.pcap, a.truth, a.envelope)
            print("corpus-%s: %d packets, %d transactions -> %s" % (a.envelope, p, n, a.pcap))
        else:
            p, n, meta = scenario_generate(a.corpus_dir, a.pcap, a.truth, a.scenario)
            print("scenario %s: %d packets, %d transactions -> %s %s" % (a.scenario, p, n, a.pcap, meta))
    except (OSError, ValueError) as e:
        print("bounce_scenarios: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

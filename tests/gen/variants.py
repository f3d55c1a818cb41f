"""The capture variants of the integration tests. Each variant builds SMTP
sessions, damages their segments the way its name says, and returns them
with the truth (what the events must say, anomalies included)."""
import ipaddress
import json
import random
import time

import tcpconv
from pcapwriter import TCP_ACK, TCP_RST, Endpoint, PcapWriter, tcp_frame, tcp_frames
from smtpgen import Message, SmtpSession, Txn

HOME_NETS = ["192.0.2.0/24", "2001:db8:2::/48"]
TS0_NS = 1_795_000_000 * 10**9      # 2026-11-18, any fixed time works


class Gen:
    """Shared state of one capture: the random source and unique 4-tuples."""

    def __init__(self, seed, name):
        self.rng = random.Random(seed)
        self.name = name
        self.nsess = 0
        self.nmsg = 0

    def _ip(self, net, n):
        return str(ipaddress.ip_network(net)[n])

    def endpoints(self, dirn="inbound", v6=False, port=25):
        """A fresh (client, server) pair for a session of direction `dirn`."""
        self.nsess += 1
        k = self.nsess
        home = "2001:db8:2::/48" if v6 else "192.0.2.0/24"
        out = ("2001:db8:99::/48", "2001:db8:98::/48") if v6 else ("198.51.100.0/24", "203.0.113.0/24")
        h1 = 10 + k % 200
        h2 = 10 + (k * 7 + 3) % 200
        cl_net, sv_net = {"inbound": (out[0], home), "outbound": (home, out[1]),
                          "internal": (home, home), "external": (out[0], out[1])}[dirn]
        if cl_net == sv_net:
            h2 = h1 + 1
        cport = 1024 + (k * 977) % 60000
        return (Endpoint(self._ip(cl_net, h1), cport), Endpoint(self._ip(sv_net, h2), port))

    SUBJECTS = [
        ("Quarterly report", None), ("Grüße aus Köln", "B"), ("Réunion de l'équipe", "Q"),
        ("会議の議事録", "B"), ("Re: invoice 2026-0117 for the account of Mr Example", None),
        ("Übersicht der Änderungen im Netz", "Q"),
    ]

    def message(self, frm="Alice Example <alice@example.org>", to="Bob <bob@example.net>",
                lines=None, dot_lines=False, subject=None, fold=False):
        self.nmsg += 1
        rng = self.rng
        subj, enc = subject or rng.choice(self.SUBJECTS)
        msgid = "<%s.%d.%08x@gen.example.org>" % (self.name, self.nmsg, rng.randrange(1 << 32))
        n = lines if lines is not None else rng.randrange(5, 40)
        body = []
        for i in range(n):
            words = " ".join(rng.choice(["lorem", "ipsum", "dolor", "sit", "amet", "mail",
                                         "relay", "queue", "bounce", "edge"]) for _ in range(rng.randrange(1, 14)))
            body.append(("line %d: %s" % (i, words)).encode())
        if dot_lines:
            # lines that must be dot-stuffed on the wire, the lone "." too
            body[1:1] = [b".", b"..", b".hidden line", b"...three dots", b". space"]
        return Message(msgid, frm, to, subj, body, subject_enc=enc, fold_subject=fold)

    def bounce(self, to_addr, lines=12, orig=None, orig_rcpt="nobody@example.com"):
        """A Postfix-style DSN to `to_addr`; with `orig` (a Message) the
        original's header block is returned as text/rfc822-headers."""
        self.nmsg += 1
        b = "=_b%08x" % self.rng.randrange(1 << 32)
        msgid = "<%s.%d.ndr@mx.example.net>" % (self.name, self.nmsg)
        body = [b"This is a MIME-encapsulated message.", b"", ("--%s" % b).encode(),
                b"Content-Type: text/plain; charset=us-ascii", b"",
                b"I'm sorry to have to inform you that your message could not",
                b"be delivered to one or more recipients.", b"",
                ("<%s>: host mx.example.com said: 550 5.1.1 User unknown" % to_addr).encode(), b"",
                ("--%s" % b).encode(), b"Content-Type: message/delivery-status", b"",
                b"Reporting-MTA: dns; mx.example.net", b"",
                ("Final-Recipient: rfc822; %s" % orig_rcpt).encode(), b"Action: failed",
                b"Status: 5.1.1", b""]
        if orig is not None:
            head = orig.raw[:orig.raw.index(b"\r\n\r\n")]
            body += [("--%s" % b).encode(), b"Content-Type: text/rfc822-headers", b""]
            body += head.split(b"\r\n") + [b""]
        body += [("--%s--" % b).encode()]
        body += [("filler %d" % i).encode() for i in range(lines)]
        ct = 'multipart/report; report-type=delivery-status; boundary="%s"' % b
        m = Message(msgid, "Mail Delivery System <MAILER-DAEMON@mx.example.net>", to_addr,
                    "Undelivered Mail Returned to Sender", body, content_type=ct,
                    extra_headers=[("Auto-Submitted", "auto-replied")])
        return m

    def plain_session(self, dirn="inbound", v6=False, port=25, txns=None, **kw):
        cl, sv = self.endpoints(dirn, v6, port)
        if txns is None:
            txns = [Txn("alice@example.org", [("bob@example.net", 250)], self.message())]
        helo = "client%d.example.org" % self.nsess
        return SmtpSession(cl, sv, helo, txns, self.rng, HOME_NETS, **kw)


class Built:
    """A session ready for the capture: its segments, encapsulation, truth."""

    def __init__(self, sess, segs, vlans=()):
        self.sess, self.segs, self.vlans = sess, segs, vlans
        self.truth = sess.truth
        self.ip_opts, self.v6_ext = b"", ()   # IPv4 options / IPv6 extension headers
        self.frag_ids = set()                 # id() of segments sent as IP fragments
        isn = sess.conv.isn
        # per direction: next in-order sequence number and buffered ranges,
        # to find when each timestamp mark is delivered (first copy wins)
        self.next = [None, None]
        self.held = [{}, {}]
        self.marks = [((isn[d] + 1 + off) & 0xFFFFFFFF, d, entry) for entry, d, off in sess.ts_marks]

    def deliver(self, seg, ts_ns):
        d = seg.dir
        if seg.flags & 0x02:
            self.next[d] = (seg.seq + 1) & 0xFFFFFFFF
            return
        if not seg.payload:
            return
        if self.next[d] is None:
            self.next[d] = seg.seq          # midstream pickup
        self.held[d][seg.seq] = max(self.held[d].get(seg.seq, seg.seq), seg.seq + len(seg.payload))
        before = self.next[d]
        moved = True
        while moved:
            moved = False
            for s0, e0 in list(self.held[d].items()):
                rel_s = (s0 - self.next[d]) & 0xFFFFFFFF
                rel_e = (e0 - self.next[d]) & 0xFFFFFFFF
                if rel_s == 0 or rel_s > 1 << 31:        # starts at or before next
                    del self.held[d][s0]
                    if 0 < rel_e < 1 << 31:
                        self.next[d] = e0 & 0xFFFFFFFF
                        moved = True
        for m in self.marks:
            seq, md, entry = m
            if md == d and "timestamp" not in entry:
                if 0 <= ((seq - before) & 0xFFFFFFFF) < ((self.next[d] - before) & 0xFFFFFFFF):
                    entry["timestamp"] = eve_time(ts_ns)


def eve_time(ts_ns):
    """Suricata's timestamp form, microseconds, UTC."""
    sec, ns = divmod(ts_ns, 10**9)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + ".%06d+0000" % (ns // 1000)


def _plain(g, sess, vlans=()):
    return Built(sess, sess.conv.segments(), vlans)


def _mix(g, n, **kw):
    """n sessions of every direction; every third over IPv6, so each kind
    of damage is seen on both IP versions."""
    dirs = ["inbound", "outbound", "external", "internal"]
    return [g.plain_session(dirs[i % 4], v6=(i % 3 == 2), **kw) for i in range(n)]


def v_inorder(g):
    return [_plain(g, s) for s in _mix(g, 6)]


def _transformed(g, fn, n=6, body_seg=200, **kw):
    out = []
    for s in _mix(g, n, body_seg=body_seg, **kw):
        out.append(Built(s, fn(s.conv.segments())))
    return out


def v_reordered(g):
    return _transformed(g, lambda segs: tcpconv.reorder(segs, g.rng, 0.6))


def v_retransmit(g):
    return _transformed(g, lambda segs: tcpconv.retransmit(segs, g.rng, 0.4))


def v_overlap(g):
    return _transformed(g, lambda segs: tcpconv.overlap_same(segs, g.rng, 0.6))


def v_overlap_mismatch(g):
    out = []
    for s in _mix(g, 4, body_seg=150):
        segs, done = tcpconv.overlap_mismatch(s.conv.segments(), g.rng, "body")
        assert done
        s.truth[0]["anomalies"] = ["overlap-mismatch"]
        out.append(Built(s, segs))
    return out


def v_gap(g):
    """One body segment is missing from the capture (the endpoints had it:
    the server's ACKs cover it and it answers the end of data with 250).
    The missing bytes count as message bytes of unknown content
    (dataplane/smtp.c), so email.size is the full size; they are in the
    body, so the header fields are all known."""
    out = []
    for s in _mix(g, 4, body_seg=120):
        hdr_len = s.txns[0].msg.raw.index(b"\r\n\r\n") + 4
        segs, lost = tcpconv.drop_one(s.conv.segments(), g.rng, "body", min_off=hdr_len)
        assert lost is not None
        s.truth[0]["anomalies"] = ["gap"]
        out.append(Built(s, segs))
    return out


def v_gap_reply(g):
    """A server reply segment is missing from the capture (the EHLO reply,
    the MAIL reply, a RCPT reply); the client's ACKs cover it. The event
    must say "gap"; which recipient the lost code belonged to cannot be
    known, so the recipient lists are not compared (every other field is)."""
    out = []
    for k in (1, 2, 3):       # replies: banner, EHLO, MAIL, RCPT, RCPT, 354, 250, 221
        s = g.plain_session("inbound", txns=[Txn("alice@example.org", [("bob@example.net", 250),
                                                                         ("carol@example.net", 250)],
                                                 g.message())])
        segs = s.conv.segments()
        reps = [i for i, x in enumerate(segs) if x.tag == "reply"]
        del segs[reps[k]]
        t = s.truth[0]
        t["anomalies"] = ["gap"]
        t["_anomalies"] = "include"
        t["_skip"] = ["smtp.rcpt_to", "smtp.rcpt_rejected"]
        out.append(Built(s, segs))
    return out


def v_gap_command(g):
    """A client command segment is missing from the capture (EHLO, or one
    RCPT); the server's ACKs cover it and its reply still comes. The event
    must say "gap" (an "unpaired-reply" for the orphan reply is accepted);
    the lost command's facts are unknown (helo null, the recipient absent),
    everything else exact: the message after it must still be parsed."""
    out = []
    for tag in ("ehlo", "rcpt"):
        s = g.plain_session("inbound", txns=[Txn("alice@example.org", [("bob@example.net", 250),
                                                                         ("carol@example.net", 250)],
                                                 g.message())])
        segs = s.conv.segments()
        del segs[next(i for i, x in enumerate(segs) if x.tag == tag)]
        t = s.truth[0]
        if tag == "ehlo":
            t["smtp"]["helo"] = None
        else:
            t["smtp"]["rcpt_to"] = ["carol@example.net"]
        t["anomalies"] = ["gap"]
        t["_anomalies_any"] = [["gap"], ["gap", "unpaired-reply"]]
        out.append(Built(s, segs))
    return out


def v_midstream(g):
    """The capture starts at MAIL FROM: no handshake, banner or EHLO."""
    out = []
    for s in _mix(g, 4):
        for t in s.truth:
            t["smtp"]["helo"] = None
            t["anomalies"] = ["midstream"]
        out.append(Built(s, tcpconv.start_at(s.conv.segments(), "mail")))
    return out


def v_midstream_data(g):
    """The capture starts inside a message body (DATA) whose text quotes an
    SMTP dialogue (as bounces do: "MAIL FROM:<...>", "RCPT TO:<...>", "250
    Ok"). Those lines are message data, not commands: no transaction may be
    made of them. The session's next transaction is reported, as the first
    one seen (index 0), with the midstream anomaly."""
    out = []
    for d in ("inbound", "outbound"):
        body = [b"This is the transcript of the failed session:", b""]
        body += [b"MAIL FROM:<forged@victim.example>", b"250 2.1.0 Ok",
                 b"RCPT TO:<nobody@example.com>", b"550 5.1.1 User unknown",
                 b"RCPT TO:<other@example.com>", b"250 2.1.5 Ok", b"DATA", b"354 go ahead", b""]
        body += [("quoted line %d" % i).encode() for i in range(20)]
        m0 = Message("<%s.first@gen.example.org>" % g.name, "postmaster@example.com", "a@example.org",
                     "Delivery report", body)
        txns = [Txn("", [("alice@example.org", 250)], m0),
                Txn("carol@example.org", [("dave@example.net", 250)], g.message())]
        s = g.plain_session(d, txns=txns, body_seg=60)
        segs = s.conv.segments()
        first_body = next(i for i, x in enumerate(segs) if x.tag == "body")
        start = next(i for i in range(first_body, len(segs))
                     if b"MAIL FROM:<forged" in b"".join(x.payload for x in segs[i:i + 2])
                     and b"MAIL FROM:<forged" not in segs[i - 1].payload)
        t = s.truth[1]
        del s.truth[0]
        t["smtp"]["transaction"] = 0
        t["smtp"]["helo"] = None
        t["anomalies"] = ["midstream"]
        s.ts_marks = [(e, dd, off) for e, dd, off in s.ts_marks if e is t]
        out.append(Built(s, segs[start:]))
    return out


def v_pipelining(g):
    out = []
    for i, d in enumerate(["inbound", "outbound", "inbound"]):
        rcpts = [("bob@example.net", 250), ("carol@example.net", 250)][: 1 + i % 2]
        txns = [Txn("alice@example.org", rcpts, g.message())]
        if i == 2:  # two pipelined transactions in one session, the second with BDAT
            m = g.message(lines=20)
            txns.append(Txn("alice@example.org", [("dave@example.net", 250)], m, mode="bdat",
                            chunks=[200, len(m.raw) - 200]))
        out.append(_plain(g, g.plain_session(d, txns=txns, pipelining=True)))
    return out


def v_syntax(g):
    """Spellings real clients and servers use: lowercase verbs, a space after
    the colon, MAIL and RCPT parameters (SIZE, BODY, RET, ENVID, SMTPUTF8,
    NOTIFY, ORCPT), a quoted local part, a source route (dropped from
    mail_from), a UTF-8 address, and multi-line 550 replies."""
    out = []
    m = g.message()
    t1 = Txn("Alice@Example.ORG", [("bob@example.net", 250), ('"john doe"@example.net', 250),
                                   ("nouser@example.net", 550)], m,
             mail_line="mail from: <Alice@Example.ORG> SIZE=%d BODY=8BITMIME RET=HDRS ENVID=QQ314159\r\n" % len(m.raw),
             rcpt_lines=["rcpt to:<bob@example.net> NOTIFY=FAILURE,DELAY ORCPT=rfc822;bob@example.net\r\n",
                         'RCPT TO:<"john doe"@example.net>\r\n',
                         "Rcpt To: <nouser@example.net> NOTIFY=NEVER\r\n"],
             multiline_rejects=True)
    t2 = Txn("eve@example.org", [("carol@example.net", 250)], g.message(),
             mail_line="MAIL FROM:<@relay.example.org:eve@example.org>\r\n")
    t3 = Txn("jösé@exämple.org", [("dörte@example.net", 250)], g.message(),
             mail_line="MAIL FROM:<jösé@exämple.org> SMTPUTF8\r\n",
             rcpt_lines=["RCPT TO:<dörte@example.net>\r\n"])
    out.append(_plain(g, g.plain_session("inbound", txns=[t1, t2, t3])))
    return out


def v_bdat(g):
    out = []
    for i, d in enumerate(["inbound", "outbound", "external"]):
        m = g.message(lines=30 + 10 * i)
        n = len(m.raw)
        chunks = [[n], [n // 3, n // 3, n - 2 * (n // 3)], [100, n - 100]][i]
        txns = [Txn("alice@example.org", [("bob@example.net", 250)], m, mode="bdat", chunks=chunks)]
        out.append(_plain(g, g.plain_session(d, txns=txns, body_seg=256)))
    return out


def v_starttls(g):
    """After STARTTLS's 220 the session carries only TLS records: the event
    says tls true and no envelope is visible."""
    return [_plain(g, g.plain_session(d, starttls=True)) for d in ("inbound", "outbound")]


def v_ipv6(g):
    return [_plain(g, g.plain_session(d, v6=True)) for d in ("inbound", "outbound", "external", "internal")]


def v_vlan(g):
    return [_plain(g, s, (100 + i,)) for i, s in enumerate(_mix(g, 4))]


def v_qinq(g):
    out = [_plain(g, s, (300, 10 + i)) for i, s in enumerate(_mix(g, 3))]
    out.append(_plain(g, g.plain_session("inbound", v6=True), (301, 20)))
    return out


def v_multi_txn(g):
    out = []
    for d in ("inbound", "outbound"):
        txns = [Txn("alice@example.org", [("bob@example.net", 250)], g.message()),
                Txn("alice@example.org", [("carol@example.net", 250)], g.message(), mode="rset"),
                Txn("eve@example.org", [("bob@example.net", 250), ("dan@example.net", 250)], g.message()),
                Txn("eve@example.org", [("bob@example.net", 250)], g.message(), mode="bdat")]
        out.append(_plain(g, g.plain_session(d, txns=txns)))
    return out


def v_rcpt_rejected(g):
    out = []
    for d in ("inbound", "outbound"):
        txns = [Txn("alice@example.org", [("nouser1@example.net", 550), ("bob@example.net", 250),
                                          ("nouser2@example.net", 551), ("carol@example.net", 250)],
                    g.message())]
        out.append(_plain(g, g.plain_session(d, txns=txns)))
    # every recipient refused: DATA gets 554 and no message travels
    txns = [Txn("alice@example.org", [("ghost@example.net", 550)], g.message())]
    out.append(_plain(g, g.plain_session("inbound", txns=txns)))
    return out


def v_null_sender(g):
    out = []
    for d in ("inbound", "inbound", "outbound"):
        txns = [Txn("", [("alice@example.org", 250)], g.bounce("alice@example.org"))]
        out.append(_plain(g, g.plain_session(d, txns=txns)))
    return out


def v_dotstuff(g):
    out = []
    for d in ("inbound", "outbound"):
        m = g.message(dot_lines=True, fold=True)
        txns = [Txn("alice@example.org", [("bob@example.net", 250)], m)]
        out.append(_plain(g, g.plain_session(d, txns=txns, body_seg=64)))
    return out


def v_onebyte(g):
    out = []
    for d in ("inbound", "outbound"):
        m = g.message(lines=6, dot_lines=True)
        txns = [Txn("alice@example.org", [("bob@example.net", 250), ("nouser@example.net", 550)], m)]
        s = g.plain_session(d, txns=txns, seg=1)
        out.append(_plain(g, s))
    return out


def v_seqwrap(g):
    """Sequence numbers wrap around 2^32 inside the message (client) and
    inside the EHLO reply (server); one session also reordered."""
    out = []
    for i, d in enumerate(("inbound", "outbound", "inbound")):
        s = g.plain_session(d, body_seg=200)
        s.conv.isn_fixed = ((1 << 32) - 700 - 97 * i, (1 << 32) - 60)
        segs = s.conv.segments()
        if i == 2:
            segs = tcpconv.reorder(segs, g.rng, 0.7)
        out.append(Built(s, segs))
    return out


def v_auth_helo(g):
    """AUTH LOGIN (credential lines that are not commands: one decodes to a
    MAIL FROM), AUTH PLAIN, and a plain HELO client."""
    out = [_plain(g, g.plain_session("outbound", port=587, auth="login")),
           _plain(g, g.plain_session("outbound", port=587, auth="plain", pipelining=True)),
           _plain(g, g.plain_session("inbound", helo_cmd="HELO"))]
    return out


def v_close(g):
    """How sessions end: RST right after the message (no QUIT), the capture
    ending after the 250 (no QUIT, no FIN), RST inside DATA and the capture
    ending inside DATA. A transaction cut inside DATA is "incomplete"; its
    size depends on where the parser was in a line, so it is not compared."""
    out = []
    s = g.plain_session("inbound", quit=False)
    out.append(Built(s, s.conv.segments(close="rst")))
    s = g.plain_session("outbound", quit=False)
    out.append(Built(s, s.conv.segments(close=None)))
    for cut_rst in (True, False):
        s = g.plain_session("inbound", body_seg=150)
        segs = s.conv.segments()
        hdr_len = s.txns[0].msg.raw.index(b"\r\n\r\n") + 4
        body = [i for i, x in enumerate(segs) if x.tag == "body"]
        k = next(i for i in body if (segs[i].seq - segs[body[0]].seq) & 0xFFFFFFFF > hdr_len + 200)
        last = segs[k]
        segs = segs[:k + 1]
        if cut_rst:
            segs.append(tcpconv.Seg(tcpconv.C2S, TCP_RST | TCP_ACK, last.end() & 0xFFFFFFFF, last.ack))
        t = s.truth[0]
        t["anomalies"] = ["incomplete"]
        t["_skip"] = ["email.size"]
        out.append(Built(s, segs))
    return out


def v_timeout(g):
    """A session stalls inside DATA for longer than the established-flow
    idle timeout (600 s by default; another session runs meanwhile, so the
    pipeline's clock moves on). Its transaction is reported with "timeout"
    and "incomplete" (size not compared); when the stalled client resumes,
    the flow is picked up again midstream inside the message, which makes no
    transaction. The other session is exact."""
    s = g.plain_session("inbound", body_seg=150)
    segs = s.conv.segments()
    hdr_len = s.txns[0].msg.raw.index(b"\r\n\r\n") + 4
    body = [i for i, x in enumerate(segs) if x.tag == "body"]
    k = next(i for i in body if (segs[i].seq - segs[body[0]].seq) & 0xFFFFFFFF > hdr_len + 150)
    t = s.truth[0]
    t["anomalies"] = ["timeout", "incomplete"]
    t["_skip"] = ["email.size"]
    first = Built(s, segs[:k] + [700 * 10**9])
    other = _plain(g, g.plain_session("outbound"))
    rest = Built(s, segs[k:])
    rest.truth, rest.marks = [], []         # the same session: its truth is in `first`
    return [first, other, rest]


def v_longfields(g):
    """A Subject longer than the event keeps (511 bytes, cut at a character
    boundary) and 40 accepted recipients (32 listed): "truncated"."""
    out = []
    subj = ("Lange Betreffzeile mit Umlauten äöü " * 30).strip()
    m = g.message(subject=(subj, "B"))
    s = g.plain_session("inbound", txns=[Txn("alice@example.org", [("bob@example.net", 250)], m)])
    cut = subj.encode()[:511]
    while True:
        try:
            expect = cut.decode()
            break
        except UnicodeDecodeError:
            cut = cut[:-1]
    s.truth[0]["email"]["subject"] = expect
    s.truth[0]["anomalies"] = ["truncated"]
    out.append(_plain(g, s))
    rc = [("r%02d@example.net" % i, 250) for i in range(40)]
    s = g.plain_session("outbound", txns=[Txn("alice@example.org", rc, g.message())])
    s.truth[0]["smtp"]["rcpt_to"] = s.truth[0]["smtp"]["rcpt_to"][:32]
    s.truth[0]["anomalies"] = ["truncated"]
    out.append(_plain(g, s))
    return out


def v_ipopts(g):
    """IPv4 options (NOPs and a Record Route) on every packet, IPv6
    hop-by-hop and destination-options headers before TCP."""
    out = []
    for d in ("inbound", "outbound"):
        b = _plain(g, g.plain_session(d))
        b.ip_opts = b"\x01\x01\x01\x07\x07\x04\0\0\0\0"   # NOP x3, RR (7 bytes), EOL pad
        out.append(b)
    for d in ("inbound", "external"):
        b = _plain(g, g.plain_session(d, v6=True))
        b.v6_ext = (0, 60)
        out.append(b)
    return out


def v_fragments(g):
    """One body segment per session arrives as IP fragments (IPv4 and
    IPv6). Backstop counts fragments and does not parse them as TCP, so the
    bytes are a gap that the server's ACKs cover; a pipeline that
    reassembles fragments shows no anomaly. Either is accepted; every other
    field must be exact (the missing bytes count in the size)."""
    out = []
    for d, v6 in (("inbound", False), ("outbound", False), ("inbound", True)):
        m = g.message(lines=40)
        s = g.plain_session(d, v6=v6, body_seg=300,
                            txns=[Txn("alice@example.org", [("bob@example.net", 250)], m)])
        b = Built(s, s.conv.segments())
        hdr_len = s.txns[0].msg.raw.index(b"\r\n\r\n") + 4
        body = [x for x in b.segs if x.tag == "body"]
        pick = next(x for x in body[1:-1] if (x.seq - body[0].seq) & 0xFFFFFFFF > hdr_len)
        b.frag_ids.add(id(pick))
        s.truth[0]["_anomalies_any"] = [[], ["gap"]]
        out.append(b)
    return out


class _Quiet:
    """A TCP conversation that is not SMTP (or not readable): no truth."""

    def __init__(self, client, server, conv):
        self.client, self.server, self.conv = client, server, conv
        self.truth, self.ts_marks = [], []


def _raw_frames():
    """ARP, a UDP DNS query, an ICMP echo and an IPv6 ICMP echo."""
    import struct as st
    from pcapwriter import _l2, checksum
    arp = _l2((), 0x0806) + st.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, b"\x02" + b"\0" * 5,
                                     bytes([192, 0, 2, 1]), b"\0" * 6, bytes([192, 0, 2, 25]))
    dns = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x02mx\x07example\x03net\x00\x00\x0f\x00\x01"
    udp = st.pack("!HHHH", 53000, 53, 8 + len(dns), 0) + dns
    iph = st.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, bytes([192, 0, 2, 10]),
                  bytes([198, 51, 100, 53]))
    iph = iph[:10] + st.pack("!H", checksum(iph)) + iph[12:]
    icmp = b"\x08\x00\x00\x00\x00\x01\x00\x01" + b"MAIL FROM:<ping@example.org>\r\n"
    icmp = icmp[:2] + st.pack("!H", checksum(icmp)) + icmp[4:]
    iph2 = st.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 2, 0, 64, 1, 0, bytes([192, 0, 2, 10]),
                   bytes([198, 51, 100, 53]))
    iph2 = iph2[:10] + st.pack("!H", checksum(iph2)) + iph2[12:]
    return [arp, _l2((), 0x0800) + iph + udp, _l2((), 0x0800) + iph2 + icmp]


def v_noise(g):
    """SMTP sessions among traffic that must not make events: ARP, UDP DNS,
    ICMP carrying SMTP words, an HTTP exchange on port 80 whose content is an
    SMTP dialogue, and an implicit-TLS session on port 465 (counted, not
    parsed)."""
    rng = g.rng
    out = [_plain(g, g.plain_session("inbound")), _plain(g, g.plain_session("outbound", port=587))]
    cl, sv = g.endpoints("inbound", port=80)
    conv = tcpconv.Conversation(rng)
    conv.client(b"POST /relay HTTP/1.1\r\nHost: x\r\nContent-Length: 60\r\n\r\n"
                b"EHLO a\r\nMAIL FROM:<http@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
    conv.server(b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n220 fake\r\n250 ok\r\n250 ok\r\n354 go\r\n")
    out.append(Built(_Quiet(cl, sv, conv), conv.segments()))
    cl, sv = g.endpoints("inbound", port=465)
    conv = tcpconv.Conversation(rng)
    for i in range(3):
        conv.client(b"\x16\x03\x01" + bytes(rng.randrange(256) for _ in range(300)))
        conv.server(b"\x16\x03\x03" + bytes(rng.randrange(256) for _ in range(700)))
    out.append(Built(_Quiet(cl, sv, conv), conv.segments()))
    noise = Built(_Quiet(cl, sv, tcpconv.Conversation(rng)), [])
    noise.segs = _raw_frames()
    out.insert(1, noise)
    return out


def _random_session(g, i):
    """A random in-order session for the interleaved capture."""
    rng = g.rng
    d = rng.choice(["inbound", "outbound", "external", "internal"])
    v6 = rng.random() < 0.2
    port = rng.choice([25, 25, 587])
    ntx = rng.choice([1, 1, 1, 2, 3])
    txns = []
    for k in range(ntx):
        kind = rng.random()
        if kind < 0.15:
            txns.append(Txn("", [("alice@example.org", 250)], g.bounce("alice@example.org", rng.randrange(0, 30))))
        else:
            rc = [("r%d.%d@example.net" % (i, j), 250 if rng.random() < 0.85 else 550)
                  for j in range(rng.randrange(1, 4))]
            if not any(c == 250 for _, c in rc):
                rc[0] = (rc[0][0], 250)
            m = g.message(lines=rng.randrange(2, 60), dot_lines=rng.random() < 0.2)
            mode = "bdat" if rng.random() < 0.2 else ("rset" if rng.random() < 0.05 else "data")
            chunks = None
            if mode == "bdat" and len(m.raw) > 200:
                chunks = [100, len(m.raw) - 100]
            txns.append(Txn("s%d@example.org" % i, rc, m, mode=mode, chunks=chunks))
    s = g.plain_session(d, v6=v6, port=port, txns=txns, pipelining=rng.random() < 0.3,
                        body_seg=rng.choice([1460, 536, 200]))
    vl = rng.choice([(), (), (), (42,), (7, 8)])
    return _plain(g, s, vl)


def v_interleaved(g, n=2000):
    return [_random_session(g, i) for i in range(n)]


def v_onebyte_interleaved(g, n=150):
    """Stress: every segment carries 1 byte, sessions interleaved."""
    out = []
    for i in range(n):
        b = _random_session(g, i)
        b.sess.conv.steps = [(d, data, tag, 1) for d, data, tag, _ in b.sess.conv.steps]
        out.append(Built(b.sess, b.sess.conv.segments(), b.vlans))
    return out


def v_sample(g):
    """The bundled sample capture (README's first command): an outbound
    message from a home user, the legitimate bounce that answers it (its
    original's headers match what left), a backscatter bounce for mail the
    home user never sent, and an inbound session with two transactions
    (PIPELINING, a refused recipient, BDAT)."""
    out = []
    m_out = g.message(frm="Alice <alice@home.example>", to="Bob <bob@example.net>", lines=8)
    out.append(_plain(g, g.plain_session("outbound", txns=[
        Txn("alice@home.example", [("bob@example.net", 250)], m_out)])))
    ndr = g.bounce("alice@home.example", 4, orig=m_out, orig_rcpt="bob@example.net")
    s = g.plain_session("inbound", txns=[Txn("", [("alice@home.example", 250)], ndr)])
    s.truth[0]["verdict"] = {"class": "legit-bounce"}
    out.append(_plain(g, s))
    forged = g.message(frm="Carol <carol@home.example>", to="victim@example.com", lines=3)
    ndr = g.bounce("carol@home.example", 4, orig=forged, orig_rcpt="victim@example.com")
    s = g.plain_session("inbound", txns=[Txn("", [("carol@home.example", 250)], ndr)])
    s.truth[0]["verdict"] = {"class": "backscatter"}
    out.append(_plain(g, s))
    out.append(_plain(g, g.plain_session("inbound", pipelining=True, txns=[
        Txn("news@example.com", [("alice@home.example", 250), ("nobody@home.example", 550)],
            g.message(lines=6)),
        Txn("news@example.com", [("bob@home.example", 250)], g.message(lines=4), mode="bdat")])))
    return out


VARIANTS = {
    "inorder": v_inorder, "reordered": v_reordered, "retransmit": v_retransmit,
    "overlap": v_overlap, "overlap-mismatch": v_overlap_mismatch, "gap": v_gap,
    "midstream": v_midstream, "pipelining": v_pipelining, "bdat": v_bdat,
    "starttls": v_starttls, "ipv6": v_ipv6, "vlan": v_vlan, "qinq": v_qinq,
    "multi-txn": v_multi_txn, "rcpt-rejected": v_rcpt_rejected, "null-sender": v_null_sender,
    "dotstuff": v_dotstuff, "onebyte": v_onebyte, "interleaved": v_interleaved, "sample": v_sample,
    "onebyte-interleaved": v_onebyte_interleaved, "seqwrap": v_seqwrap, "auth-helo": v_auth_helo,
    "close": v_close, "longfields": v_longfields, "ipopts": v_ipopts, "fragments": v_fragments,
    "midstream-data": v_midstream_data, "noise": v_noise, "syntax": v_syntax,
    "gap-reply": v_gap_reply, "gap-command": v_gap_command, "timeout": v_timeout,
}


INTERLEAVED = ("interleaved", "onebyte-interleaved")


def write_capture(path, built, rng, interleave=False, ts0=TS0_NS, gap_ns=50_000):
    """Writes the sessions' segments as a pcap. Sessions follow one another,
    or (interleave) packets of all sessions are mixed at random while each
    session keeps its own order. Returns the number of packets."""
    ts = ts0
    with PcapWriter(path) as w:
        def emit(b, s):
            nonlocal ts
            if isinstance(s, bytes):        # a ready frame (non-SMTP noise)
                w.write(ts, s)
                ts += gap_ns
                return
            if isinstance(s, int):          # a pause in the capture (ns)
                ts += s
                return
            src, dst = (b.sess.client, b.sess.server) if s.dir == tcpconv.C2S else (b.sess.server, b.sess.client)
            if b.ip_opts or b.v6_ext or b.frag_ids:
                frag = 64 if id(s) in b.frag_ids else 0
                for fr in tcp_frames(src, dst, s.seq, s.ack, s.flags, s.payload, b.vlans, s.options,
                                     ip_id=w.packets, ip_opts=b.ip_opts, v6_ext=b.v6_ext, frag=frag):
                    w.write(ts, fr)
                if frag:
                    ts += gap_ns
                    return          # fragments are not parsed as TCP (docs/dataplane.md)
            else:
                w.write(ts, tcp_frame(src, dst, s.seq, s.ack, s.flags, s.payload, b.vlans, s.options))
            b.deliver(s, ts)
            ts += gap_ns
        if not interleave:
            for b in built:
                for s in b.segs:
                    emit(b, s)
                ts += 1_000_000
        else:
            pos = [0] * len(built)
            active = list(range(len(built)))
            while active:
                k = rng.randrange(len(active))
                i = active[k]
                emit(built[i], built[i].segs[pos[i]])
                pos[i] += 1
                if pos[i] == len(built[i].segs):
                    active[k] = active[-1]
                    active.pop()
        return w.packets


def truth_key(t):
    return (t["src_ip"], t["src_port"], t["dest_ip"], t["dest_port"], t["smtp"]["transaction"])


def write_truth(path, variant, built, packets):
    entries = sorted((t for b in built for t in b.truth), key=truth_key)
    with open(path, "w", encoding="utf-8") as f:
        meta = {"_meta": {"variant": variant, "home_net": HOME_NETS, "sessions": len(built),
                          "packets": packets, "transactions": len(entries)}}
        f.write(json.dumps(meta) + "\n")
        for t in entries:
            f.write(json.dumps(t, ensure_ascii=False, sort_keys=True) + "\n")
    return len(entries)


def generate(variant, pcap_path, truth_path, seed=1):
    g = Gen(seed, variant)
    built = VARIANTS[variant](g)
    packets = write_capture(pcap_path, built, g.rng, interleave=variant in INTERLEAVED)
    n = write_truth(truth_path, variant, built, packets)
    return packets, n

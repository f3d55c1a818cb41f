"""SMTP sessions and messages, written as a Conversation, with the truth: the
event the pipeline must write for each transaction.

Truth entries use the event's own layout (see docs/events.md) so the
comparison is field by field:
  src_ip, src_port, dest_ip, dest_port, proto, direction,
  smtp {helo, mail_from, rcpt_to, rcpt_rejected [{address, code}], tls,
        bdat, pipelining, transaction},
  email {message_id, from, to, subject, content_type, size},
  anomalies [names], verdict {class}  (verdict only when a test sets it)
The server advertises PIPELINING only in sessions whose client pipelines, so
`smtp.pipelining` means the same whether it reports the client's behaviour
or the server's offer.
"""
import base64
import ipaddress

from tcpconv import Conversation


def dot_stuff(msg):
    """DATA transfer form of a CRLF message (which ends with CRLF)."""
    lines = msg.split(b"\r\n")
    assert lines[-1] == b"", "message must end with CRLF"
    out = [b"." + l if l.startswith(b".") else l for l in lines[:-1]]
    return b"\r\n".join(out) + b"\r\n.\r\n"


def rfc2047(text, enc="B"):
    """One encoded-word (UTF-8) for `text`."""
    raw = text.encode("utf-8")
    if enc == "B":
        return "=?UTF-8?B?%s?=" % base64.b64encode(raw).decode()
    q = []
    for b in raw:
        c = chr(b)
        if c == " ":
            q.append("_")
        elif c.isalnum() and b < 128:
            q.append(c)
        else:
            q.append("=%02X" % b)
    return "=?UTF-8?Q?%s?=" % "".join(q)


class Message:
    """An RFC 5322 message with CRLF line ends, and the header values the
    event must show for it."""

    def __init__(self, msgid, frm, to, subject, body_lines, content_type="text/plain",
                 subject_enc=None, fold_subject=False, extra_headers=(), date="Mon, 30 Nov 2026 12:00:00 +0000"):
        subj_wire = subject
        if subject_enc:
            subj_wire = rfc2047(subject, subject_enc)
        if fold_subject:
            # fold once at a space: unfolding must give the same text back
            words = subj_wire.split(" ")
            half = max(1, len(words) // 2)
            subj_wire = " ".join(words[:half]) + "\r\n " + " ".join(words[half:])
        hdrs = [("Date", date), ("From", frm), ("To", to), ("Subject", subj_wire),
                 ("Message-ID", msgid), ("MIME-Version", "1.0"), ("Content-Type", content_type)]
        hdrs += list(extra_headers)
        head = b"".join(("%s: %s\r\n" % kv).encode("utf-8") for kv in hdrs)
        body = b"".join(l + b"\r\n" for l in body_lines)
        self.raw = head + b"\r\n" + body
        self.truth = {"message_id": msgid, "from": frm, "to": to, "subject": subject,
                      "content_type": content_type, "size": len(self.raw)}


class Txn:
    """One transaction: envelope, per-recipient reply codes and how the
    message travels. mode: "data", "bdat" (chunks = list of sizes, the last
    one sent with LAST) or "rset" (aborted after the recipients)."""

    def __init__(self, mail_from, rcpts, msg=None, mode="data", chunks=None, mail_line=None,
                 rcpt_lines=None, multiline_rejects=False):
        self.mail_from, self.rcpts, self.msg, self.mode = mail_from, rcpts, msg, mode
        self.chunks = chunks
        # wire forms when the test wants other spellings than the canonical
        # "MAIL FROM:<a>" / "RCPT TO:<a>" (the truth keeps the addresses)
        self.mail_line, self.rcpt_lines = mail_line, rcpt_lines
        self.multiline_rejects = multiline_rejects


def direction(client_ip, server_ip, home_nets):
    nets = [ipaddress.ip_network(n) for n in home_nets]

    def home(ip):
        a = ipaddress.ip_address(ip)
        return any(a.version == n.version and a in n for n in nets)

    c, s = home(client_ip), home(server_ip)
    if c and s:
        return "internal"
    if s:
        return "inbound"
    if c:
        return "outbound"
    return "external"


class SmtpSession:
    """Builds the conversation of one SMTP session from its transactions and
    returns the truth entries."""

    def __init__(self, client, server, helo, txns, rng, home_nets, pipelining=False,
                 starttls=False, seg=1460, body_seg=None, banner_host="mx.example.net",
                 helo_cmd="EHLO", auth=None, quit=True):
        self.client, self.server, self.helo, self.txns = client, server, helo, txns
        self.helo_cmd, self.auth, self.quit = helo_cmd, auth, quit
        self.pipelining, self.starttls = pipelining, starttls
        self.home_nets = home_nets
        self.conv = Conversation(rng, seg)
        self.body_seg = body_seg or seg
        self.banner_host = banner_host
        self.rng = rng
        self.truth = []
        # (truth entry, direction, stream offset): the event's timestamp is
        # the capture time at which that byte (the LF ending MAIL FROM, or
        # STARTTLS's 220 reply) is delivered in order
        self.ts_marks = []
        self._build()

    def _reply(self, text):
        self.conv.server(text.encode() if isinstance(text, str) else text, tag="reply")

    def _cmd(self, text, tag="cmd"):
        self.conv.client(text.encode() if isinstance(text, str) else text, tag=tag)

    def _build(self):
        c = self.conv
        self._reply("220 %s ESMTP ready\r\n" % self.banner_host)
        self._cmd("%s %s\r\n" % (self.helo_cmd, self.helo), tag="ehlo")
        if self.helo_cmd == "HELO":
            self._reply("250 %s\r\n" % self.banner_host)
        else:
            caps = ["250-%s Hello %s" % (self.banner_host, self.helo), "250-SIZE 52428800", "250-8BITMIME"]
            if self.pipelining:
                caps.append("250-PIPELINING")
            caps += ["250-CHUNKING", "250-STARTTLS", "250-AUTH PLAIN LOGIN", "250 SMTPUTF8"]
            self._reply("\r\n".join(caps) + "\r\n")
        if self.auth == "login":
            # the credential lines are not commands: a parser that took
            # them for commands would pair the replies wrongly
            self._cmd("AUTH LOGIN\r\n")
            self._reply("334 VXNlcm5hbWU6\r\n")
            self._cmd("YWxpY2VAZXhhbXBsZS5vcmc=\r\n")
            self._reply("334 UGFzc3dvcmQ6\r\n")
            self._cmd("TUFJTCBGUk9NOjxmYWtlQGV4YW1wbGUub3JnPg==\r\n")
            self._reply("235 2.7.0 Authentication successful\r\n")
        elif self.auth == "plain":
            self._cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n")
            self._reply("235 2.7.0 Authentication successful\r\n")
        if self.starttls:
            self._cmd("STARTTLS\r\n")
            self._reply("220 2.0.0 Ready to start TLS\r\n")
            tls_mark = self.conv.offset(1) - 1
            # TLS records from here on: content type 0x16/0x17, version 3.3
            for i in range(3):
                body = bytes(self.rng.randrange(256) for _ in range(200 + 300 * i))
                c.client(b"\x17\x03\x03" + len(body).to_bytes(2, "big") + body, tag="tls")
                body = bytes(self.rng.randrange(256) for _ in range(100 + 500 * i))
                c.server(b"\x17\x03\x03" + len(body).to_bytes(2, "big") + body, tag="tls")
            self.truth.append(self._truth_entry(0, None, tls=True))
            self.ts_marks.append((self.truth[-1], 1, tls_mark))
            return
        for idx, t in enumerate(self.txns):
            self._txn(idx, t)
        if self.quit:
            self._cmd("QUIT\r\n", tag="quit")
            self._reply("221 2.0.0 Bye\r\n")

    def _rcpt_reply(self, addr, code, multiline=False):
        if code == 250:
            return "250 2.1.5 Ok\r\n"
        if multiline:
            return ("%d-5.1.1 <%s>: Recipient address rejected\r\n%d-5.1.1 The mailbox does not exist.\r\n"
                    "%d 5.1.1 See https://example.net/smtp-errors\r\n" % (code, addr, code, code))
        return "%d 5.1.1 <%s>: Recipient address rejected: User unknown\r\n" % (code, addr)

    def _txn(self, idx, t):
        mail = "MAIL FROM:<%s>%s\r\n" % (t.mail_from, " SIZE=%d" % len(t.msg.raw) if t.msg else "")
        if t.mail_from == "" and t.msg:
            mail = "MAIL FROM:<> SIZE=%d BODY=8BITMIME\r\n" % len(t.msg.raw)
        if t.mail_line:
            mail = t.mail_line
        rcpt_cmds = t.rcpt_lines or ["RCPT TO:<%s>\r\n" % a for a, _ in t.rcpts]
        rcpt_replies = [self._rcpt_reply(a, code, t.multiline_rejects) for a, code in t.rcpts]
        any_ok = any(code == 250 for _, code in t.rcpts)
        mail_mark = self.conv.offset(0) + len(mail.encode()) - 1
        bdat_sent = False
        if self.pipelining:
            group = (mail + "".join(rcpt_cmds)).encode()
            replies = "250 2.1.0 Ok\r\n" + "".join(rcpt_replies)
            if t.mode == "data":
                group += b"DATA\r\n"
                replies += "354 End data with <CR><LF>.<CR><LF>\r\n" if any_ok else "554 5.5.1 No valid recipients\r\n"
            elif t.mode == "bdat":
                # RFC 3030: BDAT chunks pipelined with the envelope; the
                # replies come in one burst at the end
                raw, off = t.msg.raw, 0
                sizes = t.chunks or [len(raw)]
                for i, n in enumerate(sizes):
                    last = i == len(sizes) - 1
                    group += ("BDAT %d%s\r\n" % (n, " LAST" if last else "")).encode() + raw[off:off + n]
                    off += n
                    replies += "250 2.0.0 %d octets received%s\r\n" % (n, ", queued" if last else "")
                bdat_sent = True
            self._cmd(group, tag="mail")
            self._reply(replies)
        else:
            self._cmd(mail, tag="mail")
            self._reply("250 2.1.0 Ok\r\n")
            for cmd, rep in zip(rcpt_cmds, rcpt_replies):
                self._cmd(cmd, tag="rcpt")
                self._reply(rep)
            if t.mode == "data":
                self._cmd("DATA\r\n", tag="data")
                self._reply("354 End data with <CR><LF>.<CR><LF>\r\n" if any_ok else "554 5.5.1 No valid recipients\r\n")
        if t.mode == "data" and any_ok:
            self.conv.client(dot_stuff(t.msg.raw), tag="body", seg=self.body_seg)
            self._reply("250 2.0.0 Ok: queued as %X\r\n" % (0x1000 + idx))
        elif t.mode == "bdat" and not bdat_sent:
            raw, off = t.msg.raw, 0
            sizes = t.chunks or [len(raw)]
            assert sum(sizes) == len(raw)
            for i, n in enumerate(sizes):
                last = i == len(sizes) - 1
                self._cmd("BDAT %d%s\r\n" % (n, " LAST" if last else ""), tag="bdat")
                self.conv.client(raw[off:off + n], tag="body", seg=self.body_seg)
                off += n
                self._reply("250 2.0.0 %d octets received%s\r\n" % (n, ", queued" if last else ""))
        elif t.mode == "rset":
            self._cmd("RSET\r\n", tag="rset")
            self._reply("250 2.0.0 Ok\r\n")
        delivered = t.msg if (t.mode == "bdat" or (t.mode == "data" and any_ok)) else None
        self.truth.append(self._truth_entry(idx, t, msg=delivered))
        self.ts_marks.append((self.truth[-1], 0, mail_mark))

    def _truth_entry(self, idx, t, msg=None, tls=False):
        # unknown is null (docs/events.md): no message, no header fields
        email = {"message_id": None, "from": None, "to": None, "subject": None, "content_type": None,
                 "size": None}
        if msg is not None:
            email = dict(msg.truth)
        return {
            "src_ip": self.client.ip, "src_port": self.client.port,
            "dest_ip": self.server.ip, "dest_port": self.server.port, "proto": "TCP",
            "direction": direction(self.client.ip, self.server.ip, self.home_nets),
            "smtp": {
                "helo": self.helo,
                "mail_from": t.mail_from if t else None,
                "rcpt_to": [a for a, code in t.rcpts if code == 250] if t else [],
                "rcpt_rejected": [{"address": a, "code": code} for a, code in t.rcpts if code != 250] if t else [],
                "tls": tls,
                "bdat": bool(t and t.mode == "bdat"),
                "pipelining": self.pipelining,
                "transaction": idx,
            },
            "email": email,
            "anomalies": [],
        }

#!/usr/bin/python3
"""A real SMTP server for the end-to-end test (aiosmtpd from Debian). It
offers PIPELINING, refuses recipients whose local part starts with "nouser"
(550), accepts the rest, and logs each transaction it saw as a JSON line:
client address and port, HELO, envelope, accepted and refused recipients,
and the Message-ID, Subject and size of the message it received.

  smtp_sink.py HOST PORT LOGFILE READYFILE [CERT KEY]
With CERT and KEY it offers STARTTLS. Runs until SIGTERM/SIGINT. READYFILE
is created once it listens.
"""
import json
import signal
import ssl
import sys
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email import policy

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, log):
        self.log = log
        self.refused = {}

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return responses[:-1] + ["250-PIPELINING"] + responses[-1:]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.split("@")[0].startswith("nouser"):
            self.refused.setdefault(id(envelope), []).append({"address": address, "code": 550})
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content or envelope.content
        hdr = BytesHeaderParser(policy=policy.compat32).parsebytes(data)
        def first(name):
            v = hdr.get(name)
            return "" if v is None else str(v)
        subj = first("Subject")
        try:
            subj = str(make_header(decode_header(subj)))
        except Exception:
            pass
        rec = {"client_ip": session.peer[0], "client_port": session.peer[1], "helo": session.host_name,
               "mail_from": envelope.mail_from if envelope.mail_from != "<>" else "",
               "rcpt_to": list(envelope.rcpt_tos),
               "rcpt_rejected": self.refused.pop(id(envelope), []),
               "message_id": " ".join(first("Message-ID").split()), "subject": " ".join(subj.split()),
               "size": len(data), "tls": session.ssl is not None}
        with open(self.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        return "250 2.0.0 Ok: queued"


def main():
    host, port, log, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    # blocked before the server thread starts, so it inherits the mask and
    # the signal reaches sigwait below
    sigs = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    tls = None
    if len(sys.argv) > 6:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(sys.argv[5], sys.argv[6])
    ctl = Controller(Sink(log), hostname=host, port=port, server_hostname="mx.e2e.example",
                     decode_data=False, tls_context=tls, require_starttls=False)
    ctl.start()
    open(ready, "w").close()
    signal.sigwait(sigs)
    ctl.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

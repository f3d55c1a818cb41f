"""One private Postfix instance (Debian's binaries, `postfix -c DIR`) running
inside a namespace of the topology.

Two roles:
  home   -- our mail server: mail for its domain goes to one maildir through
            virtual(8) (every address exists), mail for the peer domain is
            relayed to the peer by address.
  remote -- the outside server that backscatters: local_recipient_maps is
            empty, so smtpd accepts any recipient and local(8) bounces the
            unknown ones afterwards (Postfix's BACKSCATTER_README case), with
            the whole original attached (bounce_size_limit raised).
"""
import glob
import grp
import os
import pwd
import re
import shutil

from topo import wait_for

HERE = os.path.dirname(os.path.abspath(__file__))


def _role_settings(role, domain, dir_):
    if role == "home":
        pw = pwd.getpwnam("postfix")
        return "\n".join([
            "mydestination =",
            "virtual_mailbox_domains = %s" % domain,
            "virtual_mailbox_base = %s/mail" % dir_,
            "virtual_mailbox_maps = static:inbox/",
            "virtual_uid_maps = static:%d" % pw.pw_uid,
            "virtual_gid_maps = static:%d" % pw.pw_gid,
            "virtual_minimum_uid = 1",
        ])
    if role == "remote":
        return "\n".join([
            "mydestination = $myhostname, localhost, %s" % domain,
            "local_recipient_maps =",
            "bounce_size_limit = 1000000",
            "message_size_limit = 10240000",
        ])
    raise ValueError("unknown Postfix role %r" % role)


class Postfix:
    def __init__(self, topo, ns_role, role, dir_, domain, hostname, ip, mynetworks, peer_domain, peer_ip):
        self.topo, self.ns_role, self.role = topo, ns_role, role
        # DIR/conf holds only root's main.cf and master.cf (postfix check
        # walks it); queue, data, mailboxes and log sit beside it
        self.dir, self.domain, self.ip = dir_, domain, ip
        self.conf = os.path.join(dir_, "conf")
        self.log_path = os.path.join(dir_, "log", "maillog")
        self.started = False
        vals = dict(dir=dir_, hostname=hostname, domain=domain, ip=ip, mynetworks=mynetworks,
                    peer_domain=peer_domain, peer_ip=peer_ip,
                    role_settings=_role_settings(role, domain, dir_))
        for sub in ("conf", "queue", "data", "mail", "log"):
            os.makedirs(os.path.join(dir_, sub), exist_ok=True)
            # postfix check warns about writable or foreign-owned parents
            os.chmod(os.path.join(dir_, sub), 0o755)
        os.chmod(dir_, 0o755)
        with open(os.path.join(HERE, "main.cf.in")) as f:
            main_cf = f.read().format(**vals)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(main_cf)
        shutil.copy(os.path.join(HERE, "master.cf.in"), os.path.join(self.conf, "master.cf"))
        pw = pwd.getpwnam("postfix")
        for sub in ("data", "mail"):
            os.chown(os.path.join(dir_, sub), pw.pw_uid, pw.pw_gid)
        grp.getgrnam("postdrop")    # KeyError here: the postfix package is not set up

    def postfix(self, *args, check=True):
        return self.topo.run(self.ns_role, "/usr/sbin/postfix", "-c", self.conf, *args, check=check)

    def start(self):
        self.postfix("check")
        self.postfix("start")
        self.started = True
        self.topo.closers.append(self.stop)
        wait_for(self.listening, "Postfix %s listening on %s:25" % (self.domain, self.ip), 20)

    def listening(self):
        p = self.topo.run(self.ns_role, "ss", "-Htln", "src", self.ip, "sport", "= :25", check=False)
        return p.returncode == 0 and b"LISTEN" in p.stdout

    def stop(self):
        if self.started:
            self.started = False
            self.postfix("stop", check=False)
            # master exits asynchronously; wait so the namespace can go
            pidfile = os.path.join(self.dir, "queue", "pid", "master.pid")
            try:
                wait_for(lambda: not os.path.exists(pidfile) or not _alive(pidfile), "postfix master exit", 15)
            except RuntimeError:
                pass

    # --- what the instance did -------------------------------------------
    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, what, timeout=30):
        rx = re.compile(pattern, re.M)
        found = []
        wait_for(lambda: found.append(rx.search(self.log())) or found[-1], what + " in " + self.log_path, timeout)
        return found[-1]

    def mailbox(self):
        """The messages delivered to the maildir (home role), as bytes."""
        out = []
        for path in sorted(glob.glob(os.path.join(self.dir, "mail", "inbox", "new", "*"))):
            with open(path, "rb") as f:
                out.append(f.read())
        return out

    def queue_id_of(self, message_id):
        """Queue id of the message whose cleanup logged MESSAGE_ID, or None."""
        m = re.search(r"cleanup\[\d+\]: ([0-9A-F]+): message-id=<%s>" % re.escape(message_id.strip("<>")), self.log())
        return m.group(1) if m else None

    def bounce_of(self, queue_id, timeout=30):
        """Queue id of the non-delivery notice Postfix generated for QUEUE_ID."""
        m = self.wait_log(r"bounce\[\d+\]: %s: sender non-delivery notification: ([0-9A-F]+)" % queue_id,
                          "the NDR of %s" % queue_id, timeout)
        return m.group(1)

    def delivered(self, message_id):
        """Whether the message with MESSAGE_ID was delivered to a mailbox
        here (its queue id from cleanup, then virtual's status=sent)."""
        qid = self.queue_id_of(message_id)
        return bool(qid) and re.search(r"virtual\[\d+\]: %s: to=<[^>]*>, .*status=sent" % qid, self.log()) is not None

    def wait_delivered(self, message_id, timeout=60):
        wait_for(lambda: self.delivered(message_id), "delivery of %s in %s" % (message_id, self.log_path), timeout)

    def timeout_bytes(self, client_ip):
        """Bytes of message data smtpd had received when it timed out on a
        session from CLIENT_IP (its own count), or None."""
        m = re.search(r"smtpd\[\d+\]: timeout after (?:DATA|BDAT)[^(]*\((\d+) bytes\) from [^\[]*\[%s\]"
                      % re.escape(client_ip), self.log())
        return int(m.group(1)) if m else None

    def deferred(self, queue_id):
        """The delivery attempts of QUEUE_ID that failed temporarily."""
        return re.findall(r"smtp\[\d+\]: %s: to=<[^>]*>, .*status=deferred \(([^)]*)" % queue_id, self.log())

    def flush(self):
        """Retry the deferred mail now (postqueue -f)."""
        self.postfix("flush")

    def ndr_message_id(self, ndr_qid):
        m = self.wait_log(r"cleanup\[\d+\]: %s: message-id=(<[^>]+>)" % ndr_qid, "the NDR's message-id")
        return m.group(1)

    def size_of(self, queue_id):
        m = re.search(r"qmgr\[\d+\]: %s: from=<[^>]*>, size=(\d+)" % queue_id, self.log())
        return int(m.group(1)) if m else None


def _alive(pidfile):
    try:
        with open(pidfile) as f:
            os.kill(int(f.read().strip()), 0)
        return True
    except (OSError, ValueError):
        return False


def swaks(topo, ns_role, server, frm, to, headers=(), body=None, body_file=None, helo=None, timeout=60):
    """Submit one message with swaks from a namespace; return its output."""
    args = ["swaks", "--server", server, "--port", "25", "--from", frm, "--to", to,
            "--timeout", str(timeout)]
    if helo:
        args += ["--helo", helo]
    for h in headers:
        args += ["--header", h]
    if body_file:
        args += ["--body", "@" + body_file]   # swaks reads the body from the file
    elif body is not None:
        args += ["--body", body]
    p = topo.run(ns_role, *args, check=False, timeout=timeout + 30)
    out = p.stdout.decode(errors="replace")
    if p.returncode != 0:
        raise RuntimeError("swaks %s -> %s via %s failed (%d):\n%s" % (frm, to, server, p.returncode, out[-3000:]))
    return out


def postfix_missing():
    """Why the Debian Postfix pieces cannot run here, or None."""
    for path in ("/usr/sbin/postfix", "/usr/lib/postfix/sbin/master", "/usr/bin/swaks"):
        if not os.access(path, os.X_OK):
            return path + " not found"
    try:
        pwd.getpwnam("postfix")
        grp.getgrnam("postdrop")
    except KeyError as e:
        return "user/group %s missing (postfix package not configured)" % e
    return None



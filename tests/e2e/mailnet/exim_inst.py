"""Exim as the remote mail server, without installing it: Debian's
exim4-daemon-light is fetched with `apt-get download` (once, into a cache
directory), unpacked with `dpkg -x`, and run from there with `-C` and its
own spool and log in the work directory.

Exim insists on its compiled-in user Debian-exim, which only the package's
maintainer scripts create. Rather than touching the host's /etc/passwd,
the daemon runs in a private mount namespace (`unshare --mount`) where
copies of /etc/passwd and /etc/group with that user are bind-mounted.
"""
import glob
import os
import re
import shutil
import subprocess

from topo import wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
EXIM_UID = 64999          # Debian-exim inside the private mount namespace
PACKAGE = "exim4-daemon-light"


class Unavailable(Exception):
    """Exim cannot be had on this host (no network for apt, missing library)."""


def fetch(cache):
    """Path of an unpacked exim4 binary under CACHE, fetching it if needed."""
    exe = os.path.join(cache, "root", "usr", "sbin", "exim4")
    if os.access(exe, os.X_OK):
        return exe
    for tool in ("apt-get", "dpkg", "unshare"):
        if not shutil.which(tool):
            raise Unavailable(tool + " not found")
    os.makedirs(cache, exist_ok=True)
    debs = glob.glob(os.path.join(cache, PACKAGE + "_*.deb"))
    if not debs:
        p = subprocess.run(["apt-get", "download", PACKAGE], cwd=cache, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120)
        debs = glob.glob(os.path.join(cache, PACKAGE + "_*.deb"))
        if p.returncode != 0 or not debs:
            raise Unavailable("apt-get download %s failed: %s" % (PACKAGE, p.stdout.decode(errors="replace")[-500:]))
    tmp = os.path.join(cache, "root.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    p = subprocess.run(["dpkg", "-x", debs[0], tmp], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        raise Unavailable("dpkg -x %s: %s" % (debs[0], p.stdout.decode(errors="replace")))
    os.rename(tmp, os.path.join(cache, "root"))
    return exe


def missing_libraries(exe):
    p = subprocess.run(["ldd", exe], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return [ln.split()[0] for ln in p.stdout.decode().splitlines() if "not found" in ln]


class Exim:
    def __init__(self, topo, ns_role, exe, dir_, domain, hostname, ip, peer_domain, peer_ip):
        self.topo, self.ns_role, self.exe = topo, ns_role, exe
        self.dir, self.domain, self.ip = dir_, domain, ip
        self.log_path = os.path.join(dir_, "log", "mainlog")
        self.proc = None
        for sub in ("spool", "log", "etc"):
            os.makedirs(os.path.join(dir_, sub), exist_ok=True)
        os.chmod(dir_, 0o755)
        for sub in ("spool", "log"):
            os.chown(os.path.join(dir_, sub), EXIM_UID, EXIM_UID)
        with open(os.path.join(HERE, "exim.conf.in")) as f:
            conf = f.read().format(hostname=hostname, domain=domain, ip=ip, exim=exe, dir=dir_,
                                   peer_domain=peer_domain, peer_ip=peer_ip)
        self.conf = os.path.join(dir_, "etc", "exim.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        for name, line in (("passwd", "Debian-exim:x:%d:%d:Exim test instance:/nonexistent:/usr/sbin/nologin\n"),
                           ("group", "Debian-exim:x:%d:\n")):
            with open("/etc/" + name) as src, open(os.path.join(dir_, "etc", name), "w") as dst:
                dst.write(src.read())
                dst.write(line % ((EXIM_UID, EXIM_UID) if name == "passwd" else (EXIM_UID,)))

    def _in_private_etc(self, exim_args):
        etc = os.path.join(self.dir, "etc")
        script = ('mount --bind "$1/passwd" /etc/passwd && mount --bind "$1/group" /etc/group && shift && exec "$@"')
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", etc,
                self.exe, "-C", self.conf] + exim_args

    def check_config(self):
        p = self.topo.run(self.ns_role, *self._in_private_etc(["-bV"]), check=False)
        out = p.stdout.decode(errors="replace")
        if p.returncode != 0 or "Configuration file" not in out:
            raise RuntimeError("exim -bV with %s failed: %s" % (self.conf, out[-1500:]))

    def start(self):
        self.check_config()
        # -bdf: daemon in the foreground (its process is ours to stop);
        # -q1m: retry the queue every minute
        self.proc = self.topo.spawn("exim", self.ns_role, self._in_private_etc(["-bdf", "-q1m"]))
        wait_for(lambda: self.listening() or self.proc.poll() is not None, "Exim listening on %s:25" % self.ip, 20)
        if self.proc.poll() is not None:
            raise RuntimeError("exim exited with %d: %s" % (self.proc.returncode, self.log()[-1500:]))

    def listening(self):
        p = self.topo.run(self.ns_role, "ss", "-Htln", "src", self.ip, "sport", "= :25", check=False)
        return p.returncode == 0 and b"LISTEN" in p.stdout

    # --- what the instance did --------------------------------------------
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

    def queue_id_of(self, message_id):
        m = re.search(r"^\S+ \S+ (\S+) <= .* id=%s" % re.escape(message_id.strip("<>")), self.log(), re.M)
        return m.group(1) if m else None

    def bounce_of(self, queue_id, timeout=30):
        """Exim logs the bounce it generates as a new message `<= <> R=ORIGINAL`."""
        m = self.wait_log(r"^\S+ \S+ (\S+) <= <> R=%s\b" % re.escape(queue_id), "the bounce of %s" % queue_id, timeout)
        return m.group(1)

    def size_of(self, queue_id):
        m = re.search(r"^\S+ \S+ %s <= .* S=(\d+)" % re.escape(queue_id), self.log(), re.M)
        return int(m.group(1)) if m else None

    def deferred(self, queue_id):
        """The delivery attempts of QUEUE_ID that failed temporarily."""
        return re.findall(r"^\S+ \S+ %s == \S+ (.*)$" % re.escape(queue_id), self.log(), re.M)

    def flush(self):
        """Retry the deferred mail now: a forced queue run, in the background
        (each attempt may stall on a cut session until data_timeout)."""
        self.topo.spawn("exim-qff", self.ns_role, self._in_private_etc(["-qff"]))

    def ndr_message_id(self, ndr_qid):
        """Exim's bounces carry Message-Id: <E{id}@{primary_hostname}>."""
        m = re.search(r"^\S+ \S+ %s <= .* id=(\S+)" % re.escape(ndr_qid), self.log(), re.M)
        if m:
            return "<%s>" % m.group(1)
        return "<E%s@%s>" % (ndr_qid, "mx." + self.domain)

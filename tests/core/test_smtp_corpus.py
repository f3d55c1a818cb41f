#!/usr/bin/python3
"""Real mail through the SMTP parser: every message of ../shared/corpus is sent
through a parser session twice (DATA with CRLF and dot-stuffing, BDAT with
the bytes unchanged) by the test_smtp_corpus driver; the event lines must
give, for each message, the envelope, the size, and the Message-ID and
Subject that Python's own email package reads from the file (RFC 2047
decoded with email.header, an independent implementation).

usage: test_smtp_corpus.py DRIVER [CORPUS_DIR]
Exit 77 (skipped) when the corpus is absent."""
import email.header
import email.parser
import email.policy
import json
import os
import re
import subprocess
import sys

driver = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
corpus = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, '..', '..', '..', 'shared', 'corpus')
manifest = os.path.join(corpus, 'manifest.tsv')
if not os.path.exists(manifest):
    print('corpus not found at %s: skipped' % corpus)
    sys.exit(77)

files = []
with open(manifest, encoding='utf-8') as f:
    next(f)
    for row in f:
        files.append(os.path.join(corpus, row.split('\t', 1)[0]))

out = subprocess.run([driver, '-'], input=('\n'.join(files) + '\n').encode(), capture_output=True,
                     text=False, check=True).stdout
events = {}
for ln in out.split(b'\n'):
    if not ln:
        continue
    e = json.loads(ln)
    events.setdefault(e['flow_id'], []).append(e)

def unfold(v):
    return re.sub(r'\r\n|\n|\r', '', v).strip(' \t')


def py_decode(raw):
    """Python's RFC 2047 decoding (parts joined as they are: decode_header
    plus make_header would add a space between a word and adjacent text);
    None where Python cannot decode a word (unknown charset, bad bytes)."""
    out = []
    try:
        parts = email.header.decode_header(raw)
    except Exception:
        return None
    for text, cs in parts:
        if isinstance(text, str):
            out.append(text)
            continue
        try:
            out.append(text.decode((cs or 'ascii').split('*')[0]))
        except (LookupError, UnicodeDecodeError):
            if cs is None:
                out.append(text.decode('latin-1'))
                continue
            return None
    return ''.join(out)


def norm(s):
    return re.sub(r'\s+', ' ', s).strip()


def smtp_size(raw):
    # CRLF-normalised message as sent by DATA (before stuffing), final line end added
    lines = re.split(rb'\r\n|\n|\r', raw)
    if lines and lines[-1] == b'':
        lines = lines[:-1]
    return sum(len(x) + 2 for x in lines)


fail = 0
checked = 0
undecodable = 0
for i, path in enumerate(files, 1):
    ev = events.get(i, [])
    raw = open(path, 'rb').read()
    msg = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(raw, headersonly=True)
    problems = []
    if len(ev) != 2:
        problems.append('%d events' % len(ev))
    else:
        for e, size in ((ev[0], smtp_size(raw)), (ev[1], len(raw))):
            s, m = e['smtp'], e['email']
            if s['mail_from'] != '' or not s['null_sender'] or s['rcpt_to'] != ['user@home.example']:
                problems.append('envelope %r' % s)
            if s['data_code'] != 250 or e['anomalies'] not in ([], ['truncated']):
                problems.append('data_code %r anomalies %r' % (s['data_code'], e['anomalies']))
            if m['size'] != size:
                problems.append('size %r, expected %r' % (m['size'], size))
            mid = msg.get('Message-ID')
            want_mid = unfold(str(mid)) if mid is not None else None
            if m['message_id'] != want_mid and not (want_mid and len(want_mid.encode()) > 511):
                problems.append('message_id %r, expected %r' % (m['message_id'], want_mid))
            subj = msg.get('Subject')
            if subj is None:
                if m['subject'] is not None:
                    problems.append('subject %r, expected none' % m['subject'])
                continue
            if isinstance(subj, email.header.Header):
                undecodable += 1  # 8-bit raw header: Python hands back bytes-ish Header
                continue
            want = py_decode(unfold(subj))
            got = m['subject'] or ''
            if want is None:
                undecodable += 1
                continue
            if 'truncated' in e['anomalies']:
                want = want.encode()[:len(got.encode())].decode('utf-8', 'ignore')
            if norm(got) != norm(want):
                problems.append('subject %r, expected %r' % (got, want))
    checked += 1
    if problems:
        fail += 1
        if fail <= 25:
            print('%s:\n  %s' % (os.path.relpath(path, corpus), '\n  '.join(problems)))

print('%d messages, %d with differences, %d subjects not comparable (raw 8-bit, or Python cannot decode)'
      % (checked, fail, undecodable))
sys.exit(1 if fail else 0)

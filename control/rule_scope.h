/* What a rule applies to (scope) and what its match means (signal class).
 * Shared by the rule compiler (control/), the message parser that produces
 * the scoped byte streams, and the classifier (dataplane/detect/). */
#ifndef BS_RULE_SCOPE_H
#define BS_RULE_SCOPE_H

enum bs_scope {
	BS_SCOPE_HELO = 0,        /* EHLO/HELO argument (block mode, short) */
	BS_SCOPE_MAIL_FROM,       /* MAIL FROM address ("" for <>) */
	BS_SCOPE_RCPT_TO,         /* each RCPT TO address */
	BS_SCOPE_HEADERS,         /* the message's header block, raw (streaming) */
	BS_SCOPE_HEADER_FIELD,    /* one named header's unfolded value (rule names the field) */
	BS_SCOPE_BODY,            /* body text, transfer-decoded, all text parts (streaming) */
	BS_SCOPE_ORIG_HEADERS,    /* header block of the embedded original message (streaming) */
	BS_SCOPE_DSN,             /* message/delivery-status part, decoded (streaming) */
	BS_SCOPE_MAX
};

enum bs_signal {
	BS_SIG_NULL_SENDER = 0,   /* bounce envelope */
	BS_SIG_DSN_STRUCTURE,     /* multipart/report; delivery-status, DSN fields */
	BS_SIG_LEGACY_BOUNCE,     /* non-standard bounce wording of some MTA */
	BS_SIG_BOUNCE_HEADER,     /* bounce markers in headers (subject, X-Failed-Recipients, ...) */
	BS_SIG_DELAY,             /* delay / warning notice (not a failure) */
	BS_SIG_AUTOREPLY,         /* RFC 3834 auto-reply, vacation, out of office */
	BS_SIG_CHALLENGE,         /* challenge-response */
	BS_SIG_LIST_RESPONSE,     /* mailing-list manager response */
	BS_SIG_MDN,               /* read receipt / disposition notification */
	BS_SIG_SPAM_CONTENT,      /* spam wording inside the returned original */
	BS_SIG_URI_LIST,          /* listed URI domain */
	BS_SIG_NOT_BOUNCE,        /* counter-evidence: looks like ordinary mail */
	BS_SIG_MAX
};

#endif

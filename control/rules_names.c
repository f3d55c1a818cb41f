/* Names of scopes and signal classes: the words operators write in rule
 * files and read in events. */
#include <string.h>
#include "rules.h"

static const char *const scope_names[BS_SCOPE_MAX] = {
	[BS_SCOPE_HELO] = "helo",
	[BS_SCOPE_MAIL_FROM] = "mail_from",
	[BS_SCOPE_RCPT_TO] = "rcpt_to",
	[BS_SCOPE_HEADERS] = "headers",
	[BS_SCOPE_HEADER_FIELD] = "header",
	[BS_SCOPE_BODY] = "body",
	[BS_SCOPE_ORIG_HEADERS] = "orig_headers",
	[BS_SCOPE_DSN] = "dsn",
};

static const char *const signal_names[BS_SIG_MAX] = {
	[BS_SIG_NULL_SENDER] = "null-sender",
	[BS_SIG_DSN_STRUCTURE] = "dsn-structure",
	[BS_SIG_LEGACY_BOUNCE] = "legacy-bounce-text",
	[BS_SIG_BOUNCE_HEADER] = "bounce-header",
	[BS_SIG_DELAY] = "delay",
	[BS_SIG_AUTOREPLY] = "autoreply",
	[BS_SIG_CHALLENGE] = "challenge-response",
	[BS_SIG_LIST_RESPONSE] = "list-response",
	[BS_SIG_MDN] = "mdn",
	[BS_SIG_SPAM_CONTENT] = "spam-content",
	[BS_SIG_URI_LIST] = "uri-list",
	[BS_SIG_NOT_BOUNCE] = "not-bounce",
};

const char *bs_scope_name(enum bs_scope s)
{
	return (unsigned)s < BS_SCOPE_MAX ? scope_names[s] : NULL;
}

const char *bs_signal_name(enum bs_signal s)
{
	return (unsigned)s < BS_SIG_MAX ? signal_names[s] : NULL;
}

int bs_signal_from_name(const char *name)
{
	for (int i = 0; i < BS_SIG_MAX; i++)
		if (!strcmp(name, signal_names[i]))
			return i;
	return -1;
}

bool bs_scope_is_stream(enum bs_scope s)
{
	return s == BS_SCOPE_HEADERS || s == BS_SCOPE_BODY || s == BS_SCOPE_ORIG_HEADERS ||
	       s == BS_SCOPE_DSN;
}

/* Names of the fact enums, for events, logs and tests. */
#include "facts.h"

const char *const bs_ctype_name[BS_CT_MAX] = {
	"none", "text/plain", "text/html", "text/other", "text/rfc822-headers", "multipart/report",
	"multipart/mixed", "multipart/alternative", "multipart/other", "message/rfc822",
	"message/global", "message/delivery-status", "message/disposition-notification",
	"message/other", "other",
};
const char *const bs_report_type_name[BS_RT_MAX] = {
	"none", "delivery-status", "disposition-notification", "feedback-report", "other",
};
const char *const bs_dsn_action_name[BS_DSN_ACT_MAX] = {
	"none", "failed", "delayed", "delivered", "relayed", "expanded", "other",
};
const char *const bs_orig_how_name[BS_ORIG_MAX] = {
	"none", "message/rfc822", "message/global", "text/rfc822-headers", "inline-marker", "inline-headers",
};
const char *const bs_inline_marker_name[BS_MARK_MAX] = {
	"none", "qmail", "exim", "sendmail", "exchange", "notes", "generic",
};
const char *const bs_auto_submitted_name[BS_AS_MAX] = {
	"none", "no", "auto-replied", "auto-generated", "auto-notified", "other",
};
const char *const bs_precedence_name[BS_PREC_MAX] = {
	"none", "bulk", "junk", "list", "auto_reply", "other",
};
const char *const bs_mf_name[BS_MF_MAX_BIT] = {
	"truncated", "long_line", "depth_limit", "no_boundary", "boundary_guessed", "unclosed_part",
	"bad_base64", "bad_qp", "nul", "8bit_header", "gap", "header_only", "mbox_from",
};
const char *const bs_fact_name[BS_FACT_MAX] = {
	"top_header_end", "report", "mdn", "auto_submitted", "autoreply_mark", "list_header",
	"x_failed_rcpt", "dsn_part", "dsn_rcpt", "dsn_failed", "dsn_end", "inline_marker",
	"orig_begin", "orig_msgid", "orig_header_end", "msg_end",
};

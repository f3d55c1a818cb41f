/* The SMTP transaction record: everything one event line says about one
 * transaction (MAIL FROM ... end of data, RSET, or session end). Records are
 * fixed-size, taken from a per-worker pool when MAIL FROM is seen, filled by
 * the SMTP parser, the header parser and the detection hook, then handed to
 * the event writer (which formats JSON) and returned to the pool.
 * Strings are NUL-terminated and truncated to their buffer (the
 * BS_ANOM_TRUNCATED bit records that something was cut). */
#ifndef BS_TXN_H
#define BS_TXN_H
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

#define BS_ADDR_MAX 256      /* RFC 5321 path limit */
#define BS_HELO_MAX 256
#define BS_HDR_MAX 512       /* decoded header values kept for events */
#define BS_MAX_RCPT 32       /* recipients recorded; more are only counted */
#define BS_MAX_REASONS 8
#define BS_REASON_MAX 48

enum bs_direction { BS_DIR_EXTERNAL = 0, BS_DIR_INBOUND, BS_DIR_OUTBOUND, BS_DIR_INTERNAL };
extern const char *const bs_direction_name[4];

/* anomaly bits (event "anomalies" list) */
enum {
	BS_ANOM_GAP = 1u << 0,              /* bytes missing in a stream */
	BS_ANOM_OVERLAP_MISMATCH = 1u << 1, /* retransmission with different bytes */
	BS_ANOM_MIDSTREAM = 1u << 2,        /* session picked up without handshake */
	BS_ANOM_TRUNCATED = 1u << 3,        /* a field did not fit and was cut */
	BS_ANOM_LONG_LINE = 1u << 4,        /* command/reply line over the limit */
	BS_ANOM_GARBAGE = 1u << 5,          /* unparseable command or reply */
	BS_ANOM_UNPAIRED_REPLY = 1u << 6,   /* reply with no pending command */
	BS_ANOM_INCOMPLETE = 1u << 7,       /* session ended inside the transaction */
	BS_ANOM_BDAT_SIZE = 1u << 8,        /* BDAT chunk size invalid */
	BS_ANOM_TIMEOUT = 1u << 9,          /* flow timed out / evicted */
	BS_ANOM_MAX_BIT = 10
};
extern const char *const bs_anom_name[BS_ANOM_MAX_BIT];

/* verdict classes and actions (filled by the detection hook) */
enum bs_class { BS_CLASS_UNCLASSIFIED = 0, BS_CLASS_CLEAN, BS_CLASS_LEGIT_BOUNCE, BS_CLASS_BACKSCATTER,
		BS_CLASS_SUSPECT_BOUNCE, BS_CLASS_AUTOREPLY, BS_CLASS_CHALLENGE, BS_CLASS_ENCRYPTED,
		BS_CLASS_UNPARSED, BS_CLASS_MAX };
enum bs_action { BS_ACT_PASS = 0, BS_ACT_DROP_SESSION, BS_ACT_SHAPE_SOURCE, BS_ACT_DROP_SOURCE, BS_ACT_MAX };
extern const char *const bs_class_name[BS_CLASS_MAX];
extern const char *const bs_action_name[BS_ACT_MAX];

struct bs_endpoint {
	uint8_t ip_ver;
	uint8_t addr[16];      /* IPv4 mapped ::ffff:a.b.c.d */
	uint16_t port;
};

struct bs_rcpt {
	char addr[BS_ADDR_MAX];
	uint16_t code;         /* server reply code, 0 if none seen */
};

struct bs_verdict {
	uint8_t cls;           /* enum bs_class */
	uint8_t action;        /* enum bs_action */
	uint8_t decided;       /* verdict reached before end of transaction */
	uint8_t n_reasons;
	uint32_t shape_rate;   /* packets/s for shape-source */
	uint32_t shape_burst;
	uint32_t ttl_s;
	uint64_t offset;       /* message byte offset at which it was reached */
	char reasons[BS_MAX_REASONS][BS_REASON_MAX];
};

struct bs_txn {
	/* flow and session */
	uint64_t flow_id;
	uint64_t ts_ns;            /* time of MAIL FROM (capture clock) */
	uint64_t ts_end_ns;
	struct bs_endpoint client, server;
	uint8_t direction;         /* enum bs_direction */
	uint32_t index;            /* transaction index in the session, from 0 */
	uint32_t anomalies;        /* BS_ANOM_* bits */
	/* smtp */
	char helo[BS_HELO_MAX];
	char mail_from[BS_ADDR_MAX];   /* without <>; "" for the null sender */
	uint8_t has_mail_from;
	uint8_t null_sender;
	uint8_t tls;               /* STARTTLS completed (220) in this session */
	uint8_t bdat;              /* message sent with BDAT */
	uint8_t pipelining;        /* client pipelined commands / server offered it */
	uint8_t data_started;      /* 354 seen or BDAT began */
	uint8_t data_complete;     /* end of data seen */
	uint8_t smtputf8;
	uint16_t mail_code;        /* reply code to MAIL FROM */
	uint16_t data_code;        /* final reply code for the message (after end of data) */
	uint64_t mail_size;        /* SIZE= parameter, 0 if absent */
	char mail_body[16];        /* BODY= */
	char mail_ret[8];          /* RET= */
	char mail_envid[BS_HDR_MAX / 4];
	uint16_t n_rcpt;           /* recorded in rcpt[] */
	uint16_t n_rcpt_total;     /* all RCPT commands, recorded or not */
	struct bs_rcpt rcpt[BS_MAX_RCPT];
	/* email (header block) */
	char message_id[BS_HDR_MAX];
	char from[BS_HDR_MAX];
	char to[BS_HDR_MAX];
	char subject[BS_HDR_MAX];  /* RFC 2047 decoded to UTF-8 */
	char date[128];
	char content_type[BS_HDR_MAX];
	char boundary[128];
	char return_path[BS_ADDR_MAX];
	char auto_submitted[64];
	uint16_t n_received;       /* Received: fields counted */
	char received_first[BS_HDR_MAX]; /* topmost Received: (unfolded) */
	uint64_t size;             /* message bytes after dot-unstuffing */
	uint32_t header_size;      /* bytes of the header block incl. blank line */
	uint16_t hdr_seen;         /* BS_HDR_SEEN_*: header fields present (first wins) */
	/* verdict (detection hook) */
	struct bs_verdict verdict;
	uint8_t ledger_recorded;   /* outbound: already in the ledger (at end of data) */
};

/* bs_txn.hdr_seen: which header fields the message had (an empty value is
 * still "present": the event then shows "" rather than null) */
enum {
	BS_HDR_SEEN_MSGID = 1 << 0, BS_HDR_SEEN_FROM = 1 << 1, BS_HDR_SEEN_TO = 1 << 2,
	BS_HDR_SEEN_SUBJECT = 1 << 3, BS_HDR_SEEN_DATE = 1 << 4, BS_HDR_SEEN_CTYPE = 1 << 5,
	BS_HDR_SEEN_RPATH = 1 << 6, BS_HDR_SEEN_AUTOSUB = 1 << 7,
};

/* Copy n bytes of src into the field dst (size cap) NUL-terminated; when it
 * does not fit it is cut at a UTF-8 character boundary and, if t is not
 * NULL, BS_ANOM_TRUNCATED is set on t. Returns true when cut. */
bool bs_txn_set_str(struct bs_txn *t, char *dst, size_t cap, const char *src, size_t n);
/* Append a verdict reason (rule id or signal name) once; false when the
 * list is full (BS_MAX_REASONS). */
bool bs_txn_add_reason(struct bs_txn *t, const char *reason);
/* Recipients the server accepted (2xx) among the recorded ones. */
uint32_t bs_txn_rcpt_accepted(const struct bs_txn *t);

#endif

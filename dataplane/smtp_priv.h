/* Internals of the SMTP parser shared by its two files: smtp.c (session,
 * commands, replies, transactions) and smtp_content.c (message content:
 * DATA dot-unstuffing and end marker, BDAT bytes, the header block). Not
 * for use outside them. */
#ifndef BS_SMTP_PRIV_H
#define BS_SMTP_PRIV_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "smtp.h"
#include "mail_hdr.h"

enum cmd {
	C_CONNECT = 1, /* pseudo command answered by the greeting */
	C_EHLO, C_HELO, C_MAIL, C_RCPT, C_DATA, C_EOD, C_BDAT, C_RSET, C_QUIT,
	C_STARTTLS, C_AUTH, C_AUTH_LINE, C_NOOP, C_VRFY, C_EXPN, C_HELP, C_OTHER, C_UNKNOWN,
};

#define NOSLOT 0xFF
#define EARLY_MAX 16  /* replies held until the commands they answer show up */
#define TENT_BYTES 512 /* midstream: command lines held until the server answers */
#define TENT_LINES 8
#define SLOTS 8  /* transactions a client can pipeline before their replies come */
#define NO_RCPT 0xFFFF

struct pending {
	uint8_t cmd;    /* enum cmd */
	uint8_t slot;   /* transaction slot the reply is for, NOSLOT if none */
	uint8_t last;   /* BDAT ... LAST */
	uint16_t rcpt;  /* RCPT: index in rcpt[], NO_RCPT if not recorded */
};

struct slot {
	struct bs_txn *t;  /* NULL when txn_alloc had none: parsed, not recorded */
	uint16_t refs;     /* pending commands that refer to this slot */
	uint8_t used;
	uint8_t closed;    /* the client ended the transaction */
	uint32_t seq;      /* opening order: the oldest is forced out first */
};

struct line {
	uint32_t len;
	uint8_t overflow;  /* line longer than the buffer: rest skipped */
	uint8_t discard;   /* after a gap: drop bytes up to the next LF */
	char buf[BS_SMTP_LINE_MAX];
};

enum cmode { M_CMD = 0, M_DATA_WAIT, M_DATA, M_BDAT, M_TLS, M_DEAD };
enum dstate { D_LINE_START = 0, D_MID, D_DOT, D_DOT_CR };

struct bs_smtp_session {
	const struct bs_smtp_hooks *h;
	void *ctx;
	struct bs_smtp_stats *st;
	uint64_t now;

	uint8_t cmode;          /* what the client stream carries now */
	uint8_t dstate;         /* DATA: where in a line */
	uint8_t midstream;
	uint8_t cl_synced, sv_synced;
	uint8_t tls;            /* STARTTLS succeeded: nothing more is readable */
	uint8_t tls_record;     /* at session end, report a record for the encrypted part */
	uint8_t starttls_sent;  /* STARTTLS command awaiting its reply */
	uint8_t auth_expect;    /* a 334 was seen: the next client line is SASL data */
	uint8_t pipelined;      /* the client sent several commands in one segment */
	uint8_t call_cmds;      /* commands completed in the current client segment */
	uint8_t reply_cont;     /* inside a multi-line reply */
	uint8_t ended;
	uint16_t reply_lines;   /* lines of the current reply so far */
	uint16_t reply_code;
	uint32_t caps;          /* BS_SMTP_CAP_* */
	uint32_t n_txn;         /* MAIL commands seen (index of the next transaction) */
	uint32_t session_anom;  /* bits every transaction of the session carries */
	uint32_t next_anom;     /* bits seen between transactions: go to the next one */
	uint64_t tls_ts;

	/* transactions */
	uint8_t cur;            /* slot of the open transaction (envelope), NOSLOT */
	uint8_t msg;            /* slot receiving message bytes, NOSLOT */
	uint8_t data_slot;      /* slot of the last DATA command */
	struct slot slot[SLOTS];

	/* message being received */
	uint8_t msg_active;
	uint8_t msg_skip;       /* consumer needs no more body bytes */
	uint8_t bdat_last;
	uint8_t msg_gap;        /* bytes of this message were lost */
	uint64_t msg_off;       /* message bytes so far (after unstuffing) */
	uint64_t bdat_left;     /* bytes left in the current BDAT chunk */
	struct bs_mail_hdr hdr;

	/* Replies with no pending command. The reassembler holds client bytes
	 * behind a hole until it gives up on it, while the server's replies
	 * to them are delivered: such replies wait here for their commands.
	 * Left over at session end, they are unpaired. */
	uint8_t early_head, early_n;
	uint16_t early[EARLY_MAX];

	/* Picked up midstream, a line with a command's syntax may still be
	 * text inside a message (bounces quote whole SMTP dialogues). It is
	 * held here and becomes a command only when the server answers it;
	 * any other client line in between (a quoted "250 Ok", the "." that
	 * ends the message) shows it was text. */
	uint16_t tent_len;
	uint8_t tent_n;
	uint64_t tent_ts[TENT_LINES];
	char tent[TENT_BYTES];

	/* pending commands (ring) */
	uint32_t q_head, q_len;
	struct pending q[BS_SMTP_PENDING_MAX];

	char helo[BS_HELO_MAX];
	struct line cl, sv;
};

static inline struct bs_txn *bs_smtp_slot_txn(struct bs_smtp_session *s, uint8_t k)
{
	return k == NOSLOT ? NULL : s->slot[k].t;
}

/* True when body bytes go nowhere: then only the end marker matters. */
static inline bool bs_smtp_msg_skipping(const struct bs_smtp_session *s)
{
	return s->msg_skip && s->hdr.done;
}

/* smtp.c */
void bs_smtp_slot_end(struct bs_smtp_session *s, uint8_t k);

/* smtp_content.c */
void bs_smtp_msg_begin(struct bs_smtp_session *s, uint8_t k);
void bs_smtp_msg_bytes(struct bs_smtp_session *s, const uint8_t *p, uint32_t n);
void bs_smtp_msg_stop(struct bs_smtp_session *s);
void bs_smtp_msg_complete(struct bs_smtp_session *s);
void bs_smtp_data_run(struct bs_smtp_session *s, const uint8_t *p, uint32_t a, uint32_t b);
uint32_t bs_smtp_data_scan(struct bs_smtp_session *s, const uint8_t *p, uint32_t n, bool *eod);

#endif

#include "event_writer.h"
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include "event_json.h"

#define EW_BURST 64
#define EW_LINE_MAX BS_EVENT_JSON_MAX

struct bs_event_writer {
	FILE *out;
	bool own_file;
	struct rte_ring *ring;
	struct bs_worker **workers;
	unsigned nworkers;
	pthread_t thread;
	atomic_bool stop;
	uint64_t written;
	char line[EW_LINE_MAX];
};

static void release(struct bs_event_writer *ew, struct bs_txn *t)
{
	for (unsigned i = 0; i < ew->nworkers; i++)
		if (bs_worker_owns_txn(ew->workers[i], t)) {
			bs_worker_txn_release(ew->workers[i], t);
			return;
		}
}

static unsigned drain(struct bs_event_writer *ew)
{
	struct bs_txn *batch[EW_BURST];
	unsigned n = rte_ring_sc_dequeue_burst(ew->ring, (void **)batch, EW_BURST, NULL);
	for (unsigned i = 0; i < n; i++) {
		if (ew->out) {
			size_t len = bs_event_json(batch[i], ew->line, sizeof(ew->line));
			if (len) {
				fwrite(ew->line, 1, len, ew->out);
				ew->written++;
			}
		}
		release(ew, batch[i]);
	}
	return n;
}

static void *writer_main(void *arg)
{
	struct bs_event_writer *ew = arg;
	while (!atomic_load(&ew->stop)) {
		if (drain(ew) == 0) {
			/* idle: make events visible to `tail -f` readers, then nap */
			if (ew->out)
				fflush(ew->out);
			usleep(1000);
		}
	}
	while (drain(ew))
		;
	if (ew->out)
		fflush(ew->out);
	return NULL;
}

struct bs_event_writer *bs_event_writer_start(const char *path, struct rte_ring *ring, struct bs_worker **workers,
					      unsigned nworkers, char *err, size_t errlen)
{
	struct bs_event_writer *ew = calloc(1, sizeof(*ew));
	if (!ew) {
		snprintf(err, errlen, "event writer: out of memory");
		return NULL;
	}
	ew->ring = ring;
	ew->workers = workers;
	ew->nworkers = nworkers;
	if (path && !strcmp(path, "-")) {
		ew->out = stdout;
	} else if (path) {
		ew->out = fopen(path, "a");
		if (!ew->out) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			free(ew);
			return NULL;
		}
		ew->own_file = true;
	}
	if (ew->out)
		setvbuf(ew->out, NULL, _IOFBF, 1 << 20);
	int r = rte_ctrl_thread_create(&ew->thread, "bs-events", NULL, writer_main, ew);
	if (r != 0) {
		snprintf(err, errlen, "event writer: cannot start thread: %s", strerror(-r > 0 ? -r : r));
		if (ew->own_file)
			fclose(ew->out);
		free(ew);
		return NULL;
	}
	return ew;
}

uint64_t bs_event_writer_stop(struct bs_event_writer *ew)
{
	atomic_store(&ew->stop, true);
	pthread_join(ew->thread, NULL);
	uint64_t n = ew->written;
	if (ew->own_file)
		fclose(ew->out);
	free(ew);
	return n;
}

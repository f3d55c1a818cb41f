/* The event writer: a control thread (not an EAL lcore) that drains the
 * workers' finished transactions from one ring, formats them as JSON lines
 * and writes them with buffered stdio, then returns each record to the
 * worker that owns it. Workers therefore never touch the file. */
#ifndef BS_EVENT_WRITER_H
#define BS_EVENT_WRITER_H
#include <stdint.h>
#include <stdio.h>
#include <rte_ring.h>
#include "worker.h"

struct bs_event_writer;

struct bs_event_writer *bs_event_writer_start(const char *path, struct rte_ring *ring, struct bs_worker **workers,
					      unsigned nworkers, char *err, size_t errlen);
/* Drains what is left, flushes, closes. Returns events written. */
uint64_t bs_event_writer_stop(struct bs_event_writer *ew);

#endif

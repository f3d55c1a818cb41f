/* A one-byte test-and-set spinlock for the striped tables shared by worker
 * lcores (ledger, rates). Critical sections are a few dozen instructions on
 * one bucket, never a syscall, so spinning is cheaper than any sleeping lock
 * and never blocks the fast path on the kernel. */
#ifndef BS_SPIN_H
#define BS_SPIN_H
#include <stdint.h>

typedef struct { uint8_t v; } bs_spin_t;

static inline void bs_spin_lock(bs_spin_t *l)
{
	while (__atomic_test_and_set(&l->v, __ATOMIC_ACQUIRE)) {
		while (__atomic_load_n(&l->v, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
	}
}

static inline void bs_spin_unlock(bs_spin_t *l)
{
	__atomic_clear(&l->v, __ATOMIC_RELEASE);
}

#endif

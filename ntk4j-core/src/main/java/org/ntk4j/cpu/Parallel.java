package org.ntk4j.cpu;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * Splits non-BLAS kernel loops (and ntk4j's split GEMMs, {@link Blas}) over the machine's cores, on a small pool of
 * ntk4j's own threads: one fewer than the cores, as the calling thread runs the first chunk. A loop started from
 * inside a pool thread runs serially, so nested use cannot deadlock; a loop started while another thread's loop
 * holds the pool runs serially too (the cores are busy).
 *
 * <p>Hand-offs spin for a while before they park ({@code ntk4j.spinMicros}, default 1 ms, on both sides): a
 * pool thread woken from a park often ran its chunk while the caller waited (traced in kernel calls on the 2-core
 * KVM build machine: the caller's half of a split GEMM started 0.1–2.7 ms late, after the other half, as if the
 * woken thread had taken the caller's core), so the halves of a split GEMM ran one after the other. A pool thread
 * still spinning on its own core takes the next chunk within microseconds; the parallel sections of a kernel call
 * come less than a millisecond apart, so it rarely parks during one (the FCN example at W = 512: median call
 * 5.5–7.3 ms with 0–200 µs of spin, 3.6–3.9 ms with 1–3 ms). The cost: after the last chunk of a burst the pool
 * thread keeps its core busy for up to that long before it parks.
 */
public final class Parallel {
    /** Below this many elements a loop runs on the calling thread: handing work off costs more. */
    public static final int DEFAULT_GRAIN = 1 << 15;

    private static final int THREADS = Math.max(1, Integer.getInteger("ntk4j.threads",
            Runtime.getRuntime().availableProcessors()));
    private static final long SPIN_NANOS = Math.max(0, Long.getLong("ntk4j.spinMicros", 1000)) * 1000;
    private static final ThreadLocal<Boolean> IN_POOL = ThreadLocal.withInitial(() -> Boolean.FALSE);
    private static final Worker[] WORKERS = workers();
    /** Held by the one caller whose chunks the workers run. */
    private static final AtomicBoolean BUSY = new AtomicBoolean();

    /** Work on the half-open range [lo, hi). */
    @FunctionalInterface
    public interface Range {
        /**
         * Processes the items {@code lo} to {@code hi - 1}; called concurrently for disjoint ranges.
         *
         * @param lo the first item
         * @param hi one past the last item
         */
        void run(int lo, int hi);
    }

    /** One chunk handed to a worker. */
    private static final class Job {
        final Range body;
        final int lo;
        final int hi;
        final Thread caller;
        volatile boolean done;
        /** Set by the caller before it parks waiting for this job. */
        volatile boolean callerWaiting;
        Throwable failure;

        Job(Range body, int lo, int hi, Thread caller) {
            this.body = body;
            this.lo = lo;
            this.hi = hi;
            this.caller = caller;
        }
    }

    /** A pool thread: takes one job at a time from its slot, spinning for a while before it parks. */
    private static final class Worker extends Thread {
        private volatile Job job;
        private volatile boolean parked;

        Worker(int index) {
            super("ntk4j-cpu-" + index);
            setDaemon(true);
        }

        void hand(Job j) {
            job = j;
            if (parked) {
                LockSupport.unpark(this);
            }
        }

        @Override
        public void run() {
            IN_POOL.set(Boolean.TRUE);
            while (true) {
                Job j = take();
                try {
                    j.body.run(j.lo, j.hi);
                } catch (Throwable t) {
                    j.failure = t;
                }
                j.done = true;
                if (j.callerWaiting) {
                    LockSupport.unpark(j.caller);
                }
            }
        }

        private Job take() {
            long since = System.nanoTime();
            while (true) {
                Job j = job;
                if (j != null) {
                    job = null;
                    return j;
                }
                if (System.nanoTime() - since < SPIN_NANOS) {
                    Thread.onSpinWait();
                    continue;
                }
                parked = true;
                if (job == null) {
                    LockSupport.park(this);
                }
                parked = false;
                since = System.nanoTime();
            }
        }
    }

    private static Worker[] workers() {
        Worker[] w = new Worker[THREADS - 1];
        for (int i = 0; i < w.length; i++) {
            w[i] = new Worker(i + 1);
            w[i].start();
        }
        return w;
    }

    private Parallel() {
    }

    /**
     * Number of threads loops are split over (the system property {@code ntk4j.threads}, by default the number of
     * available processors; the calling thread counts as one).
     *
     * @return the thread count, at least 1
     */
    public static int threads() {
        return THREADS;
    }

    /** Whether the calling thread is one of the pool's (a loop started here runs serially). */
    static boolean inPool() {
        return IN_POOL.get();
    }

    /**
     * Runs {@code body} over [0, n) in at most {@link #threads()} contiguous chunks; chunks are never smaller
     * than {@code grain} items. Returns only when every chunk is done — also when a chunk fails or the calling
     * thread is interrupted, since the chunks write into the caller's buffers, which it may close and the storage
     * pool hand to another tensor as soon as this returns. The first failure of a chunk is then rethrown, and an
     * interrupt is kept as the thread's interrupt status. The calling thread runs the first chunk; a call from a
     * pool thread, or while another thread's loop holds the pool, runs everything serially.
     *
     * @param n the number of items (nothing runs when it is 0 or less)
     * @param grain the smallest chunk worth handing to another thread, in items
     * @param body the work for one chunk
     * @throws IllegalStateException wrapping a chunk's checked throwable (a chunk's runtime exception or error is
     *         rethrown as it is)
     */
    public static void range(int n, int grain, Range body) {
        int chunks = (int) Math.min(THREADS, Math.max(1, (long) n / Math.max(1, grain)));
        if (chunks <= 1 || IN_POOL.get() || !BUSY.compareAndSet(false, true)) {
            if (n > 0) {
                body.run(0, n);
            }
            return;
        }
        try {
            Thread me = Thread.currentThread();
            Job[] jobs = new Job[chunks - 1];
            for (int c = 1; c < chunks; c++) {
                int lo = (int) ((long) n * c / chunks);
                int hi = (int) ((long) n * (c + 1) / chunks);
                jobs[c - 1] = new Job(body, lo, hi, me);
                WORKERS[c - 1].hand(jobs[c - 1]);
            }
            Throwable first = null;
            try {
                body.run(0, (int) ((long) n / chunks));
            } catch (RuntimeException | Error e) {
                first = e;
            }
            boolean interrupted = false;
            for (Job j : jobs) {
                interrupted |= awaitDone(j);
                if (first == null && j.failure != null) {
                    first = j.failure;
                }
            }
            if (interrupted) {
                me.interrupt();
            }
            if (first instanceof RuntimeException) {
                throw (RuntimeException) first;
            }
            if (first instanceof Error) {
                throw (Error) first;
            }
            if (first != null) {
                throw new IllegalStateException(first);
            }
        } finally {
            BUSY.set(false);
        }
    }

    /**
     * Waits until {@code j} is done, spinning first; an interrupt does not end the wait (the chunk writes into the
     * caller's buffers). Returns whether the thread was interrupted meanwhile (its status cleared, to be restored).
     */
    private static boolean awaitDone(Job j) {
        long since = System.nanoTime();
        while (!j.done && System.nanoTime() - since < SPIN_NANOS) {
            Thread.onSpinWait();
        }
        boolean interrupted = false;
        while (!j.done) {
            j.callerWaiting = true;
            if (!j.done) {
                LockSupport.park(j);
            }
            interrupted |= Thread.interrupted(); // a pending interrupt would make park return at once
        }
        return interrupted;
    }

    /**
     * {@link #range(int, int, Range)} with the default grain.
     *
     * @param n the number of items
     * @param body the work for one chunk
     */
    public static void range(int n, Range body) {
        range(n, DEFAULT_GRAIN, body);
    }
}

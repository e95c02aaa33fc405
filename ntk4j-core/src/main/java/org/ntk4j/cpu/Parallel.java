package org.ntk4j.cpu;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Splits non-BLAS kernel loops over the machine's cores. The JDK's common pool has parallelism
 * {@code cores - 1} (1 on a 2-core machine), so ntk4j keeps a small pool of its own. A loop started from
 * inside a pool thread runs serially, so nested use cannot deadlock.
 */
public final class Parallel {
    /** Below this many elements a loop runs on the calling thread: handing work off costs more. */
    public static final int DEFAULT_GRAIN = 1 << 15;

    private static final int THREADS = Math.max(1, Integer.getInteger("ntk4j.threads",
            Runtime.getRuntime().availableProcessors()));
    private static final ThreadLocal<Boolean> IN_POOL = ThreadLocal.withInitial(() -> Boolean.FALSE);
    private static final ExecutorService POOL = THREADS <= 1 ? null : Executors.newFixedThreadPool(THREADS - 1,
            new ThreadFactory() {
                private final AtomicInteger count = new AtomicInteger();

                @Override
                public Thread newThread(Runnable r) {
                    Thread t = new Thread(() -> {
                        IN_POOL.set(Boolean.TRUE);
                        r.run();
                    }, "ntk4j-cpu-" + count.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                }
            });

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
     * interrupt is kept as the thread's interrupt status. The calling thread runs the first chunk, and then
     * every handed-off chunk that no pool thread has started yet; a call from a pool thread runs everything serially.
     *
     * @param n the number of items (nothing runs when it is 0 or less)
     * @param grain the smallest chunk worth handing to another thread, in items
     * @param body the work for one chunk
     * @throws IllegalStateException wrapping a chunk's checked throwable (a chunk's runtime exception or error is
     *         rethrown as it is)
     */
    public static void range(int n, int grain, Range body) {
        int chunks = (int) Math.min(THREADS, Math.max(1, (long) n / Math.max(1, grain)));
        if (chunks <= 1 || POOL == null || IN_POOL.get()) {
            if (n > 0) {
                body.run(0, n);
            }
            return;
        }
        Chunk[] handed = new Chunk[chunks - 1];
        for (int c = 1; c < chunks; c++) {
            Chunk chunk = new Chunk(body, (int) ((long) n * c / chunks), (int) ((long) n * (c + 1) / chunks));
            chunk.future = POOL.submit(chunk);
            handed[c - 1] = chunk;
        }
        Throwable first = null;
        try {
            body.run(0, (int) ((long) n / chunks));
        } catch (RuntimeException | Error e) {
            first = e;
        }
        boolean interrupted = false;
        for (Chunk chunk : handed) {
            if (chunk.claim()) {
                // the pool thread has not started it (waking a parked thread takes tens of microseconds on a
                // virtual machine, longer than a small chunk): run it here rather than wait for the wake-up
                try {
                    chunk.runClaimed();
                } catch (RuntimeException | Error e) {
                    if (first == null) {
                        first = e;
                    }
                }
                continue;
            }
            while (true) {
                try {
                    chunk.future.get();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true; // wait the chunk out all the same: it writes into the caller's buffers
                } catch (java.util.concurrent.ExecutionException e) {
                    if (first == null) {
                        first = e.getCause();
                    }
                    break;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        rethrow(first);
    }

    /**
     * Rethrows a worker's failure on the calling thread: a runtime exception or an error as it is, any other
     * throwable wrapped in an {@link IllegalStateException}; nothing for null.
     *
     * @param failure the first failure of the workers, or null
     * @throws RuntimeException the failure, or an IllegalStateException wrapping a checked one
     * @throws Error the failure when it is one
     */
    public static void rethrow(Throwable failure) {
        if (failure instanceof RuntimeException) {
            throw (RuntimeException) failure;
        }
        if (failure instanceof Error) {
            throw (Error) failure;
        }
        if (failure != null) {
            throw new IllegalStateException(failure);
        }
    }

    /** Pieces per thread of {@link #rangeBalanced}: the most a late pool thread leaves the caller waiting is one. */
    static final int PIECES_PER_THREAD = 4;

    /**
     * {@link #range(int, int, Range)} for memory-bound loops (element-wise kernels, copies), in up to
     * {@link #PIECES_PER_THREAD} pieces per thread of at least {@code grain} items, which the calling thread and the
     * pool's threads take in order from one counter as each finishes its last. A pool thread that wakes late then
     * takes fewer pieces instead of leaving the caller to wait for a whole half: with two halves the caller either
     * ran the other half too (the pool thread not started) or waited out its start latency; with pieces it waits at
     * most for one piece. Same guarantees as {@link #range(int, int, Range)}: it returns once every piece is done
     * (the caller runs every piece no pool thread has claimed), rethrows the first failure, and a call from a pool
     * thread runs serially. The pieces are contiguous and cover [0, n) once each.
     *
     * @param n the number of items (nothing runs when it is 0 or less)
     * @param grain the smallest piece worth handing to another thread, in items
     * @param body the work for one piece
     * @throws IllegalStateException wrapping a piece's checked throwable (a runtime exception or error is rethrown
     *         as it is)
     */
    public static void rangeBalanced(int n, int grain, Range body) {
        int pieces = (int) Math.min((long) THREADS * PIECES_PER_THREAD, Math.max(1, (long) n / Math.max(1, grain)));
        if (pieces <= THREADS) {
            range(n, grain, body);
            return;
        }
        if (POOL == null || IN_POOL.get()) {
            body.run(0, n);
            return;
        }
        Pieces work = new Pieces(body, n, pieces);
        for (int t = 1; t < THREADS; t++) {
            POOL.execute(work::drain); // a helper that starts after the last piece was taken does nothing
        }
        work.drain();
        work.awaitFinished();
        rethrow(work.failure);
    }

    /** The pieces of one {@link #rangeBalanced} call: a counter of pieces taken and one of pieces finished. */
    private static final class Pieces {
        private final Range body;
        private final int n;
        private final int count;
        private final AtomicInteger next = new AtomicInteger();
        private final AtomicInteger finished = new AtomicInteger();
        private volatile Throwable failure;

        Pieces(Range body, int n, int count) {
            this.body = body;
            this.n = n;
            this.count = count;
        }

        /** Runs pieces until none is left to take. */
        void drain() {
            for (int i = next.getAndIncrement(); i < count; i = next.getAndIncrement()) {
                try {
                    body.run((int) ((long) n * i / count), (int) ((long) n * (i + 1) / count));
                } catch (Throwable e) {
                    if (failure == null) {
                        failure = e;
                    }
                } finally {
                    finished.incrementAndGet();
                }
            }
        }

        /** Waits (spinning: a piece is short) until every taken piece is finished; every piece is taken by now. */
        void awaitFinished() {
            while (finished.get() < count) {
                Thread.onSpinWait();
            }
        }
    }

    /**
     * A chunk handed to the pool, run by whichever thread claims it first: a pool thread when it gets to it, or
     * the caller once its own chunk is done and the chunk is still waiting. So the caller never waits for a
     * parked thread to wake up, only for work that has started; a chunk runs exactly once.
     */
    private static final class Chunk implements Runnable {
        private final Range body;
        private final int lo;
        private final int hi;
        private final AtomicBoolean claimed = new AtomicBoolean();
        private Future<?> future;

        Chunk(Range body, int lo, int hi) {
            this.body = body;
            this.lo = lo;
            this.hi = hi;
        }

        boolean claim() {
            return !claimed.get() && claimed.compareAndSet(false, true);
        }

        void runClaimed() {
            body.run(lo, hi);
        }

        @Override
        public void run() {
            if (claim()) {
                runClaimed();
            }
        }
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

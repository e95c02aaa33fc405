package org.ntk4j.cpu;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
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
    /**
     * How long an idle pool thread polls for the next chunk, and a caller for a started chunk to finish, before
     * parking ({@code ntk4j.spinMicros}, 50 µs by default; 0: park at once). Why: waking a parked thread is a
     * futex system call for the waker and tens of microseconds for the woken on a virtual machine, and a kernel
     * hands work off dozens of times a call, most of them within microseconds of the last: on a 2-core Intel
     * guest, the condition signal alone took 5.6% of the W = 512 FCN's CPU samples, and polling for 50 µs made
     * its warm call 2.61–2.70 → 2.16–2.25 ms and the small cnn's 23.8–24.9 → 23.0–23.5 ms (W = 2048, whose GEMMs
     * run milliseconds, unchanged). The spin holds the second core while it lasts, so it starts only after
     * {@link #SPIN_AFTER_NANOS}: see there.
     */
    static final long SPIN_NANOS = Math.max(0, Long.getLong("ntk4j.spinMicros", 50)) * 1000;
    /**
     * How long after this class is loaded the spinning starts ({@code ntk4j.spinAfterMillis}, 3 s by default).
     * The JIT compiles hardest in a JVM's first seconds, on the same cores, and a pool thread spinning then takes
     * the core a compiler thread needs: spins of 0.2–3 ms from the start made the first calls slower (the plans
     * bench's SD point 0.75×, ntk4j-bench/SPEED_RESULTS.md "Split GEMMs that ran in series"), and 20 µs ones the
     * W = 512 FCN's calls 2–31 in a fresh JVM in one set of runs (medians 7.3 and 8.5 against 5.9 and 7.4 ms;
     * another set showed no difference). A one-shot command ends before the spinning starts; a program computing
     * kernel after kernel runs most of its calls after it.
     */
    static final long SPIN_AFTER_NANOS = Math.max(0, Long.getLong("ntk4j.spinAfterMillis", 3000)) * 1_000_000;
    private static final long LOADED = System.nanoTime();
    private static final ExecutorService POOL = THREADS <= 1 ? null : new ThreadPoolExecutor(THREADS - 1,
            THREADS - 1, 0L, TimeUnit.MILLISECONDS, new SpinningQueue(),
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

    /** The spin to make now: {@link #SPIN_NANOS} once {@link #SPIN_AFTER_NANOS} have passed, else 0. */
    private static long spinNanos() {
        return spinning() ? SPIN_NANOS : 0;
    }

    /** Whether idle pool threads and waiting callers poll before they park by now ({@link #SPIN_NANOS}). */
    static boolean spinning() {
        return SPIN_NANOS > 0 && System.nanoTime() - LOADED >= SPIN_AFTER_NANOS;
    }

    /**
     * The pool's queue: {@link #take} polls for up to {@link #spinNanos} before it parks. A hand-off to a thread
     * still polling costs no system call: {@code offer} signals only a thread that waits in {@code take}.
     */
    private static final class SpinningQueue extends LinkedBlockingQueue<Runnable> {
        private static final long serialVersionUID = 1L;

        @Override
        public Runnable take() throws InterruptedException {
            Runnable next = poll();
            long spin = next == null ? spinNanos() : 0;
            if (spin > 0) {
                long end = System.nanoTime() + spin;
                while (next == null && System.nanoTime() < end) {
                    Thread.onSpinWait();
                    next = poll();
                }
            }
            return next != null ? next : super.take();
        }
    }

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
            long spin = spinNanos();
            if (spin > 0) { // a started chunk: poll for its end before parking (see SPIN_NANOS)
                long end = System.nanoTime() + spin;
                while (!chunk.future.isDone() && System.nanoTime() < end) {
                    Thread.onSpinWait();
                }
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

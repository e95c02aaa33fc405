package org.ntk4j.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

/**
 * {@link Parallel#range}: every index once, small loops inline, nested loops serial, failures rethrown, chunks no
 * pool thread has started run by the caller; {@link Parallel#rangeBalanced} likewise, in more pieces.
 */
class ParallelTest {

    @Test
    void everyIndexIsVisitedExactlyOnce() {
        for (int n : new int[] {0, 1, 7, 1000, 100_003}) {
            AtomicIntegerArray seen = new AtomicIntegerArray(Math.max(1, n));
            Parallel.range(n, 10, (lo, hi) -> {
                assertThat(lo).isLessThanOrEqualTo(hi);
                for (int i = lo; i < hi; i++) {
                    seen.incrementAndGet(i);
                }
            });
            for (int i = 0; i < n; i++) {
                assertThat(seen.get(i)).as("index %d of %d", i, n).isEqualTo(1);
            }
        }
    }

    @Test
    void smallLoopsRunOnTheCallingThreadAndLargeOnesSplit() {
        Set<String> threads = ConcurrentHashMap.newKeySet();
        Parallel.range(100, 1000, (lo, hi) -> threads.add(Thread.currentThread().getName()));
        assertThat(threads).containsExactly(Thread.currentThread().getName());
        Set<Long> chunks = ConcurrentHashMap.newKeySet();
        Parallel.range(1_000_000, 10, (lo, hi) -> chunks.add((long) lo));
        assertThat(chunks).hasSize(Parallel.threads());
    }

    /**
     * Loops started from several threads at once each visit every index once, many times over, and none waits
     * forever: the pool shared by several callers, its thread parked now and then.
     */
    @Test
    void concurrentCallersEachSeeEveryIndexOnce() throws Exception {
        assertConcurrentLoopsSeeEveryIndexOnce(4, 2000, 1000, 17, false, 500);
    }

    /**
     * {@code callers} threads each run {@code loops} loops over n = base + step·(its number) items, every index
     * checked to be visited exactly once — every other loop by {@link Parallel#rangeBalanced} when {@code balanced}
     * — and sleep 3 ms every {@code parkEvery} loops, long enough for the pool thread to park; none may wait
     * forever.
     */
    private static void assertConcurrentLoopsSeeEveryIndexOnce(int callers, int loops, int base, int step,
                                                               boolean balanced, int parkEvery) throws Exception {
        java.util.concurrent.ExecutorService ex = java.util.concurrent.Executors.newFixedThreadPool(callers);
        try {
            java.util.List<java.util.concurrent.Future<Integer>> done = new java.util.ArrayList<>();
            for (int c = 0; c < callers; c++) {
                int n = base + step * c;
                done.add(ex.submit(() -> {
                    int ok = 0;
                    for (int l = 0; l < loops; l++) {
                        AtomicIntegerArray seen = new AtomicIntegerArray(n);
                        Parallel.Range visit = (lo, hi) -> {
                            for (int i = lo; i < hi; i++) {
                                seen.incrementAndGet(i);
                            }
                        };
                        if (balanced && l % 2 == 1) {
                            Parallel.rangeBalanced(n, 10, visit);
                        } else {
                            Parallel.range(n, 10, visit);
                        }
                        boolean all = true;
                        for (int i = 0; i < n; i++) {
                            all &= seen.get(i) == 1;
                        }
                        ok += all ? 1 : 0;
                        if (l % parkEvery == 0) {
                            Thread.sleep(3);
                        }
                    }
                    return ok;
                }));
            }
            for (java.util.concurrent.Future<Integer> f : done) {
                assertThat(f.get(120, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo(loops);
            }
        } finally {
            ex.shutdownNow();
        }
    }

    @Test
    void nestedLoopsDoNotDeadlock() {
        AtomicIntegerArray count = new AtomicIntegerArray(1);
        Parallel.range(64, 1, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                Parallel.range(64, 1, (a, b) -> count.addAndGet(0, b - a));
            }
        });
        assertThat(count.get(0)).isEqualTo(64 * 64);
    }

    @Test
    void theFirstFailureIsRethrown() {
        assertThatThrownBy(() -> Parallel.range(1_000_000, 10, (lo, hi) -> {
            if (hi == 1_000_000) {
                throw new IllegalArgumentException("last chunk failed");
            }
        })).isExactlyInstanceOf(IllegalArgumentException.class).hasMessage("last chunk failed");
        assertThatThrownBy(() -> Parallel.range(10, 100, (lo, hi) -> {
            throw new IllegalStateException("inline failure");
        })).isExactlyInstanceOf(IllegalStateException.class);
    }

    /**
     * The chunks write into the caller's buffers, so range returns only when every chunk is done: also when the
     * caller's own chunk throws an Error, and when the caller is interrupted while it waits.
     */
    @Test
    void returnsOnlyWhenEveryChunkIsDoneEvenOnAFailureOrAnInterrupt() {
        org.junit.jupiter.api.Assumptions.assumeTrue(Parallel.threads() > 1, "one thread: no chunk runs elsewhere");
        java.util.concurrent.atomic.AtomicInteger finished = new java.util.concurrent.atomic.AtomicInteger();
        int chunks = Parallel.threads();
        assertThatThrownBy(() -> Parallel.range(chunks, 1, (lo, hi) -> {
            if (lo == 0) {
                throw new AssertionError("the caller's chunk failed");
            }
            sleep(300);
            finished.incrementAndGet();
        })).isExactlyInstanceOf(AssertionError.class).hasMessage("the caller's chunk failed");
        assertThat(finished.get()).as("chunks done when range returned").isEqualTo(chunks - 1);

        finished.set(0);
        Thread.currentThread().interrupt();
        Parallel.range(chunks, 1, (lo, hi) -> {
            if (lo > 0) {
                sleep(300);
                finished.incrementAndGet();
            }
        });
        assertThat(Thread.interrupted()).as("the interrupt is kept").isTrue();
        assertThat(finished.get()).as("chunks done when range returned").isEqualTo(chunks - 1);
    }

    /**
     * A chunk that no pool thread has started is run by the caller once its own chunk is done, instead of waiting
     * for a pool thread: here every pool thread is held by another caller's chunks, so without that the call
     * would not return before they are let go.
     */
    @Test
    void theCallerRunsTheChunksNoPoolThreadHasStarted() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Parallel.threads() > 1, "one thread: no chunk is handed off");
        int chunks = Parallel.threads();
        withPoolThreadsHeld(() -> {
            java.util.List<String> ranOn = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
            AtomicIntegerArray seen = new AtomicIntegerArray(chunks * 100);
            String[] caller = new String[1];
            org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(30), () -> {
                caller[0] = Thread.currentThread().getName();
                Parallel.range(chunks * 100, 100, (lo, hi) -> {
                    ranOn.add(Thread.currentThread().getName());
                    for (int i = lo; i < hi; i++) {
                        seen.incrementAndGet(i);
                    }
                });
            });
            assertThat(ranOn).hasSize(chunks).containsOnly(caller[0]);
            for (int i = 0; i < seen.length(); i++) {
                assertThat(seen.get(i)).as("index %d", i).isEqualTo(1);
            }
            // a handed-off chunk the caller runs itself fails: its failure is the call's, after every chunk ran
            java.util.concurrent.atomic.AtomicInteger ran = new java.util.concurrent.atomic.AtomicInteger();
            org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(30), () ->
                    assertThatThrownBy(() -> Parallel.range(chunks, 1, (lo, hi) -> {
                        ran.incrementAndGet();
                        if (lo == 1) {
                            throw new IllegalStateException("handed-off chunk failed");
                        }
                    })).isExactlyInstanceOf(IllegalStateException.class).hasMessage("handed-off chunk failed"));
            assertThat(ran.get()).isEqualTo(chunks);
        });
        // the pool threads, let go, skip the chunks the caller took and run new ones again
        Set<String> threads = ConcurrentHashMap.newKeySet();
        java.util.concurrent.CountDownLatch both = new java.util.concurrent.CountDownLatch(chunks);
        Parallel.range(chunks, 1, (lo, hi) -> {
            threads.add(Thread.currentThread().getName());
            both.countDown();
            try {
                both.await(30, java.util.concurrent.TimeUnit.SECONDS); // each chunk waits for the others: in parallel
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        assertThat(threads).hasSize(chunks);
    }

    /**
     * {@link Parallel#rangeBalanced}: contiguous pieces of at least the grain that cover every index once, more
     * pieces than threads for a long loop (at most {@link Parallel#PIECES_PER_THREAD} each), the loop of two pieces
     * or fewer as {@link Parallel#range}; from several callers at once, each sees every index once.
     */
    @Test
    void balancedPiecesCoverEveryIndexOnce() throws Exception {
        for (int n : new int[] {0, 1, 7, 1000, 100_003}) {
            for (int grain : new int[] {1, 10, 40_000}) {
                AtomicIntegerArray seen = new AtomicIntegerArray(Math.max(1, n));
                java.util.List<int[]> pieces = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
                Parallel.rangeBalanced(n, grain, (lo, hi) -> {
                    pieces.add(new int[] {lo, hi});
                    for (int i = lo; i < hi; i++) {
                        seen.incrementAndGet(i);
                    }
                });
                for (int i = 0; i < n; i++) {
                    assertThat(seen.get(i)).as("index %d of %d, grain %d", i, n, grain).isEqualTo(1);
                }
                assertThat(pieces.size()).isLessThanOrEqualTo(Parallel.threads() * Parallel.PIECES_PER_THREAD);
                if (pieces.size() > 1) {
                    assertThat(pieces).allSatisfy(p -> assertThat(p[1] - p[0]).isGreaterThanOrEqualTo(grain));
                }
                int most = Parallel.threads() * Parallel.PIECES_PER_THREAD;
                if (Parallel.threads() > 1 && (long) n / grain >= 2L * most) {
                    assertThat(pieces).hasSize(most);
                }
            }
        }
        java.util.concurrent.ExecutorService ex = java.util.concurrent.Executors.newFixedThreadPool(3);
        try {
            java.util.List<java.util.concurrent.Future<Boolean>> done = new java.util.ArrayList<>();
            for (int c = 0; c < 3; c++) {
                int n = 5000 + 31 * c;
                done.add(ex.submit(() -> {
                    boolean all = true;
                    for (int l = 0; l < 500; l++) {
                        AtomicIntegerArray seen = new AtomicIntegerArray(n);
                        Parallel.rangeBalanced(n, 10, (lo, hi) -> {
                            for (int i = lo; i < hi; i++) {
                                seen.incrementAndGet(i);
                            }
                        });
                        for (int i = 0; i < n; i++) {
                            all &= seen.get(i) == 1;
                        }
                    }
                    return all;
                }));
            }
            for (java.util.concurrent.Future<Boolean> f : done) {
                assertThat(f.get(60, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            }
        } finally {
            ex.shutdownNow();
        }
    }

    /**
     * Balanced pieces: the first failure is rethrown once every piece has finished; with every pool thread held
     * by another caller, the caller runs all pieces itself and returns; from a pool thread the loop runs serially.
     */
    @Test
    void balancedPiecesFailFinishAndNeverWaitForAHeldPool() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Parallel.threads() > 1, "one thread: nothing is handed off");
        java.util.concurrent.atomic.AtomicInteger finished = new java.util.concurrent.atomic.AtomicInteger();
        assertThatThrownBy(() -> Parallel.rangeBalanced(1_000_000, 10, (lo, hi) -> {
            if (lo == 0) {
                throw new IllegalArgumentException("first piece failed");
            }
            sleep(20);
            finished.incrementAndGet();
        })).isExactlyInstanceOf(IllegalArgumentException.class).hasMessage("first piece failed");
        assertThat(finished.get()).as("pieces done when it returned")
                .isEqualTo(Parallel.threads() * Parallel.PIECES_PER_THREAD - 1);

        int chunks = Parallel.threads();
        withPoolThreadsHeld(() -> {
            Set<String> ranOn = ConcurrentHashMap.newKeySet();
            AtomicIntegerArray seen = new AtomicIntegerArray(100_000);
            org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(30), () ->
                    Parallel.rangeBalanced(100_000, 10, (lo, hi) -> {
                        ranOn.add(Thread.currentThread().getName());
                        for (int i = lo; i < hi; i++) {
                            seen.incrementAndGet(i);
                        }
                    }));
            assertThat(ranOn).as("the caller alone (the timeout's thread)").hasSize(1)
                    .noneMatch(t -> t.startsWith("ntk4j-cpu"));
            for (int i = 0; i < seen.length(); i++) {
                assertThat(seen.get(i)).isEqualTo(1);
            }
        });
        AtomicIntegerArray count = new AtomicIntegerArray(1);
        Parallel.range(chunks, 1, (lo, hi) -> Parallel.rangeBalanced(100_000, 10,
                (a, b) -> count.addAndGet(0, b - a)));
        assertThat(count.get(0)).isEqualTo(chunks * 100_000);
    }

    /**
     * Once idle pool threads and waiting callers poll before parking ({@code ntk4j.spinMicros}, from
     * {@code ntk4j.spinAfterMillis} after the class loads), loops still visit every index once — several callers at
     * once, hand-offs back to back — and a chunk's failure is still rethrown once every chunk is done.
     */
    @Test
    void onceThePoolSpinsEveryGuaranteeHolds() throws Exception {
        long deadline = System.nanoTime() + Parallel.SPIN_AFTER_NANOS + 30_000_000_000L;
        while (!Parallel.spinning()) {
            assertThat(System.nanoTime()).as("spinning starts after ntk4j.spinAfterMillis").isLessThan(deadline);
            Thread.sleep(10);
        }
        assertConcurrentLoopsSeeEveryIndexOnce(3, 1000, 5000, 31, true, 250);
        AtomicIntegerArray finished = new AtomicIntegerArray(1);
        assertThatThrownBy(() -> Parallel.range(1000, 10, (lo, hi) -> {
            if (lo == 0) {
                sleep(5);
                finished.incrementAndGet(0);
            }
            if (hi == 1000) {
                throw new IllegalStateException("chunk ending at " + hi);
            }
        })).isInstanceOf(IllegalStateException.class).hasMessage("chunk ending at 1000");
        assertThat(finished.get(0)).as("the chunk from 0 finished before the failure was rethrown").isEqualTo(1);
    }

    /** Work run while every pool thread is held by another caller's chunks. */
    @FunctionalInterface
    private interface HeldWork {
        void run() throws Exception;
    }

    /**
     * Runs {@code work} while every pool thread is held inside another caller's chunk (a thread "holder" whose own
     * chunk waits until the pool threads have started theirs), then lets them go and checks the holder finished.
     */
    private static void withPoolThreadsHeld(HeldWork work) throws Exception {
        int chunks = Parallel.threads();
        java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(chunks - 1);
        java.util.concurrent.CountDownLatch letGo = new java.util.concurrent.CountDownLatch(1);
        Thread holder = new Thread(() -> Parallel.range(chunks, 1, (lo, hi) -> {
            try {
                if (lo == 0) {
                    started.await(); // the pool threads, not this caller, must take the other chunks
                } else {
                    started.countDown();
                    letGo.await();
                }
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }), "holder");
        holder.start();
        try {
            assertThat(started.await(30, java.util.concurrent.TimeUnit.SECONDS)).as("pool threads held").isTrue();
            work.run();
        } finally {
            letGo.countDown();
            holder.join(30_000);
        }
        assertThat(holder.isAlive()).isFalse();
    }

    private static void sleep(long ms) {
        long end = System.nanoTime() + ms * 1_000_000;
        while (System.nanoTime() < end) {
            Thread.onSpinWait(); // not Thread.sleep: a pool thread's interrupt must not cut it short
        }
    }
}

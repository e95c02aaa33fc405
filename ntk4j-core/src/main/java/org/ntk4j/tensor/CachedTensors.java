package org.ntk4j.tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * The tensors a cached value owns (the constants of a cached graph: the scalars a trace allocates, a layer's
 * constant matrices), closed when the cache drops the value. A value is built by {@link #build}, which records
 * every tensor allocated on this thread while it runs (as a {@link TensorScope} does) and keeps those still open;
 * {@link #retire} closes them once no {@link Lease} that began before it is still open, so that a call which
 * took the value from the cache before it was dropped never reads a closed constant. Without a lease open the
 * tensors are closed at once.
 *
 * <p>Ownership follows allocation: a graph derived from another (a VJP, a rewrite) shares the other's constants
 * without owning them, so each constant is closed by exactly one owner, the one whose build allocated it. What
 * lives longer than the value whose build asks for it is allocated by a build of its own owner (a build inside
 * another is not captured by the outer one: a model's converted buffers) or in no scope, {@link
 * TensorScope#unscoped} (a layer's constants, kept for the layer's life). Thread-safe.
 */
public final class CachedTensors {
    private static final Object LOCK = new Object();
    /** Number of leases opened so far: a retirement at epoch e waits for the open leases of epochs up to e. */
    private static long epoch;
    /** Open leases by the epoch they began at. */
    private static final TreeMap<Long, Integer> OPEN = new TreeMap<>();
    /** Retired owners waiting for older leases to close, by the epoch they were retired at (ascending). */
    private static final ArrayDeque<Retired> WAITING = new ArrayDeque<>();

    private record Retired(long epoch, CachedTensors owner) {
    }

    private final List<Tensor> owned = new ArrayList<>();
    private boolean retired;
    private boolean closed;

    /** An owner of no tensors yet. */
    public CachedTensors() {
    }

    /**
     * Runs {@code body} in a scope of its own (no enclosing scope: what it allocates outlives the current
     * computation) and keeps the tensors it allocated on this thread that are still open when it returns; when it
     * throws, they are closed as a scope's are.
     *
     * @param body builds the cached value
     * @param <T> the value's type
     * @return what {@code body} returns
     */
    public <T> T build(Supplier<T> body) {
        List<Tensor> made = new ArrayList<>();
        T value = TensorScope.capture(body, made);
        synchronized (this) {
            if (!closed) {
                owned.addAll(made);
            }
            // else: built after this owner was retired and closed, by a caller holding no lease; the tensors are
            // left to the collector, as no owner outlives them
        }
        return value;
    }

    /**
     * Number of the owned tensors still open (for tests of the caches' bounds).
     *
     * @return the count
     */
    public synchronized int openTensors() {
        int n = 0;
        for (Tensor t : owned) {
            n += t.isClosed() ? 0 : 1;
        }
        return n;
    }

    /**
     * Closes the owned tensors once every lease opened before this call is closed (at once when none is open).
     * Idempotent.
     */
    public void retire() {
        synchronized (LOCK) {
            if (retired) {
                return;
            }
            retired = true;
            if (!OPEN.isEmpty()) {
                WAITING.add(new Retired(epoch, this));
                return;
            }
        }
        closeOwned();
    }

    private void closeOwned() {
        List<Tensor> all;
        synchronized (this) {
            closed = true;
            all = new ArrayList<>(owned);
            owned.clear();
        }
        closeAll(all);
    }

    private static void closeAll(List<Tensor> tensors) {
        for (Tensor t : tensors) {
            t.close();
        }
    }

    /**
     * Opens a lease: while it is open, no owner retired after it began closes its tensors. Every call that takes
     * values from a cache of owned tensors holds one from before it takes them until it no longer uses them.
     *
     * @return the lease, which the caller closes
     */
    public static Lease lease() {
        synchronized (LOCK) {
            long e = ++epoch;
            OPEN.merge(e, 1, Integer::sum);
            return new Lease(e);
        }
    }

    /**
     * Owners retired and waiting for an older lease to close (for tests).
     *
     * @return the count
     */
    public static int waiting() {
        synchronized (LOCK) {
            return WAITING.size();
        }
    }

    /** A call's hold on the cached values it may use (see {@link #lease()}). */
    public static final class Lease implements AutoCloseable {
        private final long began;
        private final AtomicBoolean open = new AtomicBoolean(true);

        private Lease(long began) {
            this.began = began;
        }

        /** Ends the hold, closing the retired owners no other lease still holds. Idempotent. */
        @Override
        public void close() {
            if (!open.compareAndSet(true, false)) {
                return;
            }
            List<CachedTensors> ready = new ArrayList<>();
            synchronized (LOCK) {
                OPEN.computeIfPresent(began, (k, n) -> n == 1 ? null : n - 1);
                long oldest = OPEN.isEmpty() ? Long.MAX_VALUE : OPEN.firstKey();
                while (!WAITING.isEmpty() && WAITING.peekFirst().epoch() < oldest) {
                    ready.add(WAITING.pollFirst().owner());
                }
            }
            for (CachedTensors c : ready) {
                c.closeOwned();
            }
        }
    }
}

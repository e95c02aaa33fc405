package org.ntk4j.tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * The tensors a computation allocates on this thread, freed together when it ends: every tensor created while
 * a scope is open on the thread (the innermost one) belongs to it, and {@link #close()} closes those still open,
 * whether the computation returned or threw half way. What must outlive the scope is handed out with
 * {@link #keep}, which passes it to the enclosing scope (or to the caller when there is none).
 * <pre>
 *   try (TensorScope scope = TensorScope.open()) {
 *       Tensor k = ...;            // intermediates allocated here are freed at the end, also on failure
 *       return scope.keep(k);
 *   }
 * </pre>
 * Scopes nest and are closed in reverse order of opening, on the thread that opened them. Tensors made on other
 * threads (the cores' parallel loops) belong to no scope. Values cached beyond a call (the constants of cached
 * graphs) are built by {@link CachedTensors#build}, which owns them until the cache drops the value, or, kept for
 * the life of what caches them (a layer's constants), {@link #unscoped}.
 */
public final class TensorScope implements AutoCloseable {
    private static final ThreadLocal<TensorScope> CURRENT = new ThreadLocal<>();
    private final TensorScope parent;
    private final List<Tensor> owned = new ArrayList<>();
    private int pruneAt = 256;
    private boolean closed;

    private TensorScope(TensorScope parent) {
        this.parent = parent;
    }

    /**
     * Opens a scope on this thread, inside the current one if any.
     *
     * @return the scope, which the caller closes (try-with-resources)
     */
    public static TensorScope open() {
        TensorScope s = new TensorScope(CURRENT.get());
        CURRENT.set(s);
        return s;
    }

    /**
     * Runs {@code body} with no scope open on this thread, so that what it allocates belongs to no scope (values
     * cached beyond the current computation).
     *
     * @param body the code to run
     * @param <T> its result type
     * @return what {@code body} returns
     */
    public static <T> T unscoped(Supplier<T> body) {
        TensorScope s = CURRENT.get();
        CURRENT.remove();
        try {
            return body.get();
        } finally {
            if (s != null) {
                CURRENT.set(s);
            }
        }
    }

    /**
     * Runs {@code body} in a new scope with no enclosing one, then adds the tensors it allocated that are still
     * open to {@code into} instead of closing them; when {@code body} throws, they are closed ({@link
     * CachedTensors#build}).
     */
    static <T> T capture(Supplier<T> body, List<Tensor> into) {
        TensorScope s = new TensorScope(null);
        TensorScope previous = CURRENT.get();
        CURRENT.set(s);
        boolean done = false;
        try {
            T value = body.get();
            done = true;
            return value;
        } finally {
            if (previous != null) {
                CURRENT.set(previous);
            } else {
                CURRENT.remove();
            }
            if (done) {
                for (Tensor t : s.owned) {
                    if (!t.isClosed()) {
                        into.add(t);
                    }
                }
                s.owned.clear();
            }
            s.closed = true;
            if (!done) {
                for (Tensor t : s.owned) {
                    t.close();
                }
            }
        }
    }

    /** Records a new tensor in this thread's innermost scope, if one is open. */
    static void register(Tensor t) {
        TensorScope s = CURRENT.get();
        if (s != null) {
            s.add(t);
        }
    }

    private void add(Tensor t) {
        owned.add(t);
        if (owned.size() >= pruneAt) {
            owned.removeIf(Tensor::isClosed);
            pruneAt = Math.max(256, 2 * owned.size());
        }
    }

    /**
     * Hands a tensor out of this scope: it is not closed at its end but belongs to the enclosing scope (none: to
     * the caller).
     *
     * @param t a tensor allocated in this scope (or any other tensor, which is then left alone)
     * @return {@code t}
     */
    public Tensor keep(Tensor t) {
        for (int i = owned.size() - 1; i >= 0; i--) {
            if (owned.get(i) == t) {
                owned.remove(i);
                break;
            }
        }
        if (parent != null && !t.isClosed()) {
            parent.add(t);
        }
        return t;
    }

    /**
     * Number of tensors of this scope still open.
     *
     * @return the count
     */
    public int openTensors() {
        int n = 0;
        for (Tensor t : owned) {
            n += t.isClosed() ? 0 : 1;
        }
        return n;
    }

    /** Closes every tensor of this scope still open, and makes the enclosing scope current again. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (CURRENT.get() == this) {
            if (parent != null) {
                CURRENT.set(parent);
            } else {
                CURRENT.remove();
            }
        }
        for (Tensor t : owned) {
            t.close();
        }
        owned.clear();
    }
}

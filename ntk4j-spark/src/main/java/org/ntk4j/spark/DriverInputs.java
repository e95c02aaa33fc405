package org.ntk4j.spark;

import java.util.HashMap;
import java.util.Map;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.Tensor;

/**
 * The driver's inputs of each running job (parameters, x1, x2), registered per JVM under the job's tag, so that a
 * task that runs in the driver's JVM ({@code local[k]}) reads them instead of deserialising its own copy: the
 * inputs are then held once, as in a local run, and {@code --memory} bounds the JVM as it bounds a local run. A task
 * in another JVM (an executor of a cluster), or in a class loader of its own, finds nothing and deserialises the
 * broadcast copy as on a cluster.
 *
 * <p>The tasks only read the tensors, as the workers of a local run read them from several threads at once
 * (reads of a tensor's storage, and the parameters' kept copies, are thread-safe). The driver keeps them open
 * while any task reads them: {@link Registration#close} (when the job has ended, whether it succeeded, failed or
 * was cancelled) stops new leases, tells the tasks that still compute to stop after their current tile
 * ({@link Lease#ended}), and returns only once every lease is released, so the caller may then close the tensors.
 * A task that arrives after that (a retried or speculative attempt still running, a zombie of a cancelled job)
 * finds nothing and deserialises as in another JVM.
 */
final class DriverInputs {
    /** Per JVM: each running job's inputs, by its tag. */
    private static final Map<String, Entry> JOBS = new HashMap<>();

    private DriverInputs() {
    }

    /**
     * Registers the driver's inputs of job {@code job} until the returned registration is closed.
     *
     * @param job the job's tag, unique to the job
     * @param params the parameters, open until the registration is closed
     * @param x1 the first data set, open until then
     * @param x2 the second, or null (x2 = x1)
     * @return the registration, which the driver closes when the job has ended
     * @throws IllegalStateException if {@code job} is registered already
     */
    static Registration register(String job, Params params, Tensor x1, Tensor x2) {
        Entry e = new Entry(params, x1, x2);
        synchronized (JOBS) {
            if (JOBS.putIfAbsent(job, e) != null) {
                throw new IllegalStateException("driver inputs: job " + job + " is registered already");
            }
        }
        return new Registration(job, e);
    }

    /**
     * Whether the inputs of {@code job} are registered in this JVM now (a task's first look, which decides how it
     * shares its executor's memory; {@link #lease} takes them).
     *
     * @param job the job's tag
     * @return true in the driver's JVM while the job runs
     */
    static boolean registered(String job) {
        synchronized (JOBS) {
            return JOBS.containsKey(job);
        }
    }

    /**
     * The driver's inputs of {@code job} for a task of this JVM, kept open until the lease is closed.
     *
     * @param job the job's tag
     * @return the lease, or null when the job's inputs are not registered in this JVM (another JVM, or the job has
     *     ended)
     */
    static Lease lease(String job) {
        Entry e;
        synchronized (JOBS) {
            e = JOBS.get(job);
        }
        if (e == null) {
            return null;
        }
        synchronized (e) {
            if (e.ended) {
                return null;
            }
            e.leases++;
        }
        return new Lease(e);
    }

    /** One job's inputs, the tasks reading them, and whether the job has ended. */
    private static final class Entry {
        private final Params params;
        private final Tensor x1;
        private final Tensor x2;
        /** Guarded by this entry. */
        private int leases;
        /** Written under this entry's lock; read by tasks between tiles. */
        private volatile boolean ended;

        Entry(Params params, Tensor x1, Tensor x2) {
            this.params = params;
            this.x1 = x1;
            this.x2 = x2;
        }
    }

    /** The driver's side: the inputs registered until the job has ended. */
    static final class Registration implements AutoCloseable {
        private final String job;
        private final Entry entry;
        private boolean closed;

        private Registration(String job, Entry entry) {
            this.job = job;
            this.entry = entry;
        }

        /**
         * Ends the registration: no new lease, the tasks that hold one told to stop after their current tile,
         * and returns once every lease is released (waiting through interrupts, whose status it keeps: the
         * caller frees the tensors next, which must not happen under a task that reads them).
         */
        @Override
        public void close() {
            if (closed) {
                return;
            }
            closed = true;
            synchronized (JOBS) {
                JOBS.remove(job);
            }
            boolean interrupted = false;
            synchronized (entry) {
                entry.ended = true;
                while (entry.leases > 0) {
                    try {
                        entry.wait();
                    } catch (InterruptedException e) {
                        interrupted = true;
                    }
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** A task's side: the driver's inputs, read-only, open until {@link #close}. */
    static final class Lease implements AutoCloseable {
        private final Entry entry;
        private boolean closed;

        private Lease(Entry entry) {
            this.entry = entry;
        }

        /** The driver's parameters (with their buffers); never closed by the task. */
        Params params() {
            return entry.params;
        }

        /** The driver's x1; never closed by the task. */
        Tensor x1() {
            return entry.x1;
        }

        /** The driver's x2, or null (x2 = x1); never closed by the task. */
        Tensor x2() {
            return entry.x2;
        }

        /**
         * Whether the job has ended (the driver is waiting for this lease): the task stops after its current tile.
         *
         * @return true once the driver has closed its registration
         */
        boolean ended() {
            return entry.ended;
        }

        /** Releases the inputs (once). */
        @Override
        public void close() {
            if (closed) {
                return;
            }
            closed = true;
            synchronized (entry) {
                entry.leases--;
                entry.notifyAll();
            }
        }
    }
}

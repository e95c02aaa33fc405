package org.ntk4j.spark;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.apache.spark.TaskContext;
import org.ntk4j.ntk.CostModel;
import org.ntk4j.ntk.TilePlan;

/**
 * How a Spark task of a plan shares its executor with the job's other tasks. Spark runs as many tasks at once as
 * the executor has cores (over {@code spark.task.cpus}); each task computes its tiles on one worker with the plan's
 * BLAS threads (the tiles' bits depend on them, {@link TilePlan#blasThreads()}), and holds the inputs (its own
 * copy on a cluster's executor; in local mode the driver's, shared by the tasks, {@link DriverInputs}), one block's
 * peak and, where it fits its share, a cache of its prepared tiles. So at most {@link #atOnce()} of the job's tasks
 * compute at once in an executor's JVM: no more than the executor's cores over the plan's BLAS threads, and no more
 * than fit in its memory (the plan's budget, or the JVM's off-heap limit where that is smaller); the others wait.
 * Shared inputs count once, as in a local run of the plan, so that a local-mode run stays within the plan's budget
 * as the local run does, on the same tile grid.
 */
final class TaskShare {
    /** Per JVM: each job's tasks computing now. */
    private static final Map<String, Gate> GATES = new HashMap<>();

    private final String executor;
    private final int atOnce;
    private final long need;
    private final TilePlan plan;

    private TaskShare(String executor, int atOnce, long need, TilePlan plan) {
        this.executor = executor;
        this.atOnce = atOnce;
        this.need = need;
        this.plan = plan;
    }

    /**
     * The share of a task of {@code plan} on an executor.
     *
     * @param plan the job's plan
     * @param executor the executor's id ("driver" in local mode), for the messages
     * @param cores the executor's cores
     * @param taskCpus Spark's cores per task ({@code spark.task.cpus})
     * @param limit the executor JVM's off-heap limit (JavaCPP's {@code maxBytes}), or 0 for none
     * @param held the bytes of tensors the JVM holds besides the tasks (in local mode the driver's inputs)
     * @param shared true when the tasks read the inputs that {@code held} counts rather than copies of their own
     *     (local mode, {@link DriverInputs}): a task then adds one block's peak (and its cache) to them, and the
     *     inputs count once within the plan's budget
     * @param copyBytes the bytes that a task copies for itself, when it does not share the driver's tensors (a
     *     cluster's executor), beyond what the plan's peak counts ({@link TensorData#uncountedCopyBytes}: its
     *     buffers; its copy of the parameters is the one the plan counts); 0 when {@code shared}
     * @return the share
     * @throws IllegalStateException if one task needs more than the JVM's limit leaves
     * @throws IllegalArgumentException if {@code copyBytes} is negative, or positive with {@code shared}
     */
    static TaskShare of(TilePlan plan, String executor, int cores, int taskCpus, long limit, long held,
                        boolean shared, long copyBytes) {
        if (copyBytes < 0 || shared && copyBytes != 0) {
            throw new IllegalArgumentException("copyBytes: expected " + (shared ? "0 for tasks that share the "
                    + "driver's tensors" : "at least 0") + ", got " + copyBytes);
        }
        long one = plan.withWorkers(1, plan.budgetBytes()).predictedPeakBytes();
        // shared: the inputs are held once, beside the tasks' blocks, as the local run holds them beside its
        // workers' (the plan's budget counts them once); else each task holds its own copy within its share. The
        // parameters are in `one` (CostModel counts them in every block's peak): a cluster task's own copy is that
        // one, not one more; what a task copies beyond the plan (its buffers) is added
        long need = shared ? one - plan.inputBytes() : one + copyBytes;
        long room = limit > 0 ? limit - held : Long.MAX_VALUE;
        long memory = shared ? Math.min(plan.budgetBytes() - plan.inputBytes(), room)
                : Math.min(plan.budgetBytes(), room);
        if (need > room) {
            throw new IllegalStateException("executor " + executor + ": its off-heap limit " + CostModel.human(limit)
                    + (held > 0 ? ", less the driver's inputs (" + CostModel.human(held) + ")," : "")
                    + " is below the " + CostModel.human(need) + " a task of this plan needs (" + (shared
                    ? "one block" : copyBytes > 0 ? "the inputs, its copy of the buffers and one block"
                    : "the inputs and one block") + "); give executors more memory "
                    + "(spark.executor.memory) or plan with a smaller --memory");
        }
        int slots = Math.max(1, cores / Math.max(1, taskCpus));
        int threads = Math.max(1, cores / plan.blasThreads());
        int fit = (int) Math.max(1, Math.min(Integer.MAX_VALUE, memory / Math.max(1, need)));
        int atOnce = Math.min(slots, Math.min(threads, fit));
        // a task's plan counts the inputs in its budget (TiledKernel keeps its cache within what the budget leaves
        // beside the plan's predicted peak, the inputs included): shared, the inputs plus the task's part of the rest
        long part = Math.max(need, memory / atOnce);
        // the copy of the buffers is the task's, but not its plan's: its cache gets what is left beside it
        long budget = shared ? plan.inputBytes() + part : part - copyBytes;
        return new TaskShare(executor, atOnce, need, plan.withWorkers(1, budget));
    }

    /**
     * The job's tasks that compute at once in the executor's JVM.
     *
     * @return at least 1
     */
    int atOnce() {
        return atOnce;
    }

    /**
     * What one task needs: one block's peak, and its inputs unless they are shared, without a cache.
     *
     * @return bytes
     */
    long need() {
        return need;
    }

    /**
     * The plan a task computes its tiles with: one worker, within its share of the memory.
     *
     * @return the plan ({@link TilePlan#withWorkers})
     */
    TilePlan plan() {
        return plan;
    }

    /** What a task computes once it may. */
    @FunctionalInterface
    interface Work<T> {
        T run();
    }

    /**
     * Runs {@code work} once fewer than {@link #atOnce()} tasks of {@code job} compute in this JVM, waiting
     * meanwhile (a task killed while it waits stops). An {@link OutOfMemoryError} of the work is thrown as an
     * {@link OutOfMemory}: Spark fails the task (and the job, if every attempt fails) instead of killing the
     * executor, and the driver reports it.
     *
     * @param job the job's tag
     * @param context the task's context, or null (tests)
     * @param work the task's computation
     * @param <T> what it returns
     * @return what it returned
     */
    <T> T run(String job, TaskContext context, Work<T> work) {
        Gate gate;
        synchronized (GATES) {
            gate = GATES.computeIfAbsent(job, k -> new Gate(atOnce));
            gate.tasks++;
        }
        try {
            gate.acquire(context);
            try {
                return work.run();
            } catch (OutOfMemoryError e) {
                throw new OutOfMemory("executor " + executor + " ran out of memory (" + e.getMessage()
                        + ") with " + atOnce + " task" + (atOnce == 1 ? "" : "s") + " at once, each within "
                        + CostModel.human(plan.budgetBytes()) + ("driver".equals(executor) ? ""
                        : "; give executors more memory (spark.executor.memory) or fewer cores "
                        + "(spark.executor.cores)"));
            } finally {
                gate.permits.release();
            }
        } finally {
            synchronized (GATES) {
                if (--gate.tasks == 0) {
                    GATES.remove(job);
                }
            }
        }
    }

    /** A task ran out of memory; the driver reports it as an {@link OutOfMemoryError} (exit code 3). */
    static final class OutOfMemory extends RuntimeException {
        private static final long serialVersionUID = 1L;

        OutOfMemory(String message) {
            super(message);
        }
    }

    /** One job's tasks in this JVM: the permits to compute, and the tasks holding or awaiting one. */
    private static final class Gate {
        private final Semaphore permits;
        private int tasks;

        Gate(int atOnce) {
            permits = new Semaphore(atOnce, true);
        }

        void acquire(TaskContext context) {
            try {
                while (!permits.tryAcquire(100, TimeUnit.MILLISECONDS)) {
                    if (context != null) {
                        context.killTaskIfInterrupted();
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                if (context != null) {
                    context.killTaskIfInterrupted();
                }
                throw new IllegalStateException("interrupted while waiting for a turn to compute", e);
            }
        }
    }
}

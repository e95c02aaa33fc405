package org.ntk4j.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.SparkException;
import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.NonFiniteKernelException;
import org.ntk4j.ntk.TilePlan;
import org.ntk4j.ntk.TilePlanner;
import org.ntk4j.tensor.DType;

/**
 * How a Spark task shares its executor ({@link TaskShare}) and how the job is cut into tasks and its failures
 * reported ({@link SparkKernelJob}): tasks at once by cores, BLAS threads and memory, one worker each, the cache
 * within the task's share; a task that runs out of memory fails as such; tasks sized from the executors' cores.
 */
class TaskShareTest {
    /** A plan of 2 workers of fcn(depth=2,width=32,out=4) on 64 examples in tiles of 16, budget {@code bytes}. */
    private static TilePlan plan(long bytes) {
        Model m = Zoo.parse("fcn(depth=2,width=32,out=4)");
        try (Params p = m.init(1, new int[] {8}, DType.F32)) {
            return TilePlanner.of(EmpiricalNtk.of(m, p), KernelKind.full()).tile(16).budget(bytes).workers(2)
                    .plan(64, 0, new int[] {8}, DType.F32);
        }
    }

    @Test
    void tasksAtOnceAreBoundByCoresThreadsAndMemory() {
        TilePlan roomy = plan(1L << 30);
        long need = roomy.withWorkers(1, roomy.budgetBytes()).predictedPeakBytes();
        assertThat(need).isEqualTo(roomy.inputBytes() + (roomy.predictedPeakBytes() - roomy.inputBytes()) / 2);
        int threads = roomy.blasThreads();
        // cores: as many as Spark's slots (over the plan's BLAS threads), each task one worker
        TaskShare s = TaskShare.of(roomy, "1", 8, 1, 0, 0, false, 0);
        assertThat(s.atOnce()).isEqualTo(Math.max(1, 8 / threads));
        assertThat(s.plan().workers()).isEqualTo(1);
        assertThat(s.need()).isEqualTo(need);
        assertThat(s.plan().budgetBytes()).isEqualTo(roomy.budgetBytes() / s.atOnce());
        assertThat(TaskShare.of(roomy, "1", 8, 4, 0, 0, false, 0).atOnce()).as("spark.task.cpus 4").isEqualTo(2);
        // memory: a limit that holds three tasks' need
        TaskShare three = TaskShare.of(roomy, "1", 8, 1, 3 * need + need / 2, 0, false, 0);
        assertThat(three.atOnce()).isEqualTo(Math.min(3, Math.max(1, 8 / threads)));
        assertThat(three.plan().budgetBytes()).isEqualTo((3 * need + need / 2) / three.atOnce());
        // the driver's own inputs count in local mode
        assertThat(TaskShare.of(roomy, "driver", 8, 1, 3 * need, roomy.inputBytes(), false, 0).atOnce())
                .isLessThan(3);
        // the plan's budget bounds the executor's share: the plan made for 2 workers runs 2 tasks at most
        TilePlan tight = roomy.withWorkers(2, roomy.predictedPeakBytes());
        // each task holds the inputs
        assertThat(TaskShare.of(tight, "1", 8, 1, 1L << 40, 0, false, 0).atOnce()).isEqualTo(1);
        assertThatThrownBy(() -> TaskShare.of(roomy, "7", 8, 1, need - 1, 0, false, 0))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("executor 7: its off-heap limit")
                .hasMessageContaining("a task of this plan needs (the inputs and one block)");
    }

    /**
     * Local mode, the tasks reading the driver's inputs ({@link DriverInputs}): the inputs count once, as in the
     * local run of the plan, so the plan made for 2 workers within its predicted peak runs 2 tasks at once, and
     * the inputs plus every task's share stay within the budget.
     */
    @Test
    void sharedInputsCountOnce() {
        TilePlan roomy = plan(1L << 30);
        TilePlan tight = roomy.withWorkers(2, roomy.predictedPeakBytes());
        long inputs = tight.inputBytes();
        long block = tight.withWorkers(1, tight.budgetBytes()).predictedPeakBytes() - inputs;
        assertThat(block).isEqualTo((tight.predictedPeakBytes() - inputs) / 2);
        int threads = tight.blasThreads();
        TaskShare s = TaskShare.of(tight, "driver", 8, 1, 0, inputs, true, 0);
        assertThat(s.need()).isEqualTo(block);
        assertThat(s.atOnce()).isEqualTo(Math.min(2, Math.max(1, 8 / threads)));
        assertThat(s.plan().workers()).isEqualTo(1);
        // a task's plan counts the shared inputs in its budget: its cache gets what is left beside them and its block
        assertThat(s.plan().budgetBytes()).isEqualTo(inputs + (tight.budgetBytes() - inputs) / s.atOnce());
        assertThat(inputs + s.atOnce() * (s.plan().budgetBytes() - inputs)).isLessThanOrEqualTo(tight.budgetBytes());
        // as the copies of a cluster's tasks: one at a time
        assertThat(TaskShare.of(tight, "driver", 8, 1, 0, inputs, false, 0).atOnce()).isEqualTo(1);
        // a limit below the budget: what it leaves beside the inputs, one block's worth
        TaskShare limited = TaskShare.of(tight, "driver", 8, 1, inputs + block + block / 2, inputs, true, 0);
        assertThat(limited.atOnce()).isEqualTo(1);
        assertThat(limited.plan().budgetBytes()).isEqualTo(inputs + block + block / 2);
        assertThatThrownBy(() -> TaskShare.of(tight, "driver", 8, 1, inputs + block - 1, inputs, true, 0))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("executor driver: its off-heap limit")
                .hasMessageContaining("less the driver's inputs (")
                .hasMessageContaining("a task of this plan needs (one block)");
    }

    /**
     * What a cluster's task copies beyond what the plan's peak counts (its buffers: {@link
     * TensorData#uncountedCopyBytes}) counts in its need, so the tasks at once hold no more than the executor's memory,
     * and its cache gets what its share leaves beside it.
     */
    @Test
    void aClusterTaskCountsWhatItCopiesBeyondThePlan() {
        TilePlan roomy = plan(1L << 30);
        long one = roomy.withWorkers(1, roomy.budgetBytes()).predictedPeakBytes();
        long copy = one / 2;
        long limit = 3 * one + one / 2; // three tasks without their copies, two with them
        int threads = roomy.blasThreads();
        TaskShare s = TaskShare.of(roomy, "1", 8, 1, limit, 0, false, copy);
        assertThat(s.need()).isEqualTo(one + copy);
        assertThat(s.atOnce()).isEqualTo(Math.min(2, Math.max(1, 8 / threads)));
        assertThat(s.atOnce() * s.need()).isLessThanOrEqualTo(limit);
        // a task's plan: its share less its copy, which its cache cannot use
        assertThat(s.plan().budgetBytes()).isEqualTo(limit / s.atOnce() - copy);
        assertThat(s.atOnce() * (s.plan().budgetBytes() + copy)).isLessThanOrEqualTo(limit);
        assertThatThrownBy(() -> TaskShare.of(roomy, "7", 8, 1, one + copy - 1, 0, false, copy))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("a task of this plan needs (the inputs, its copy of the buffers and one block)");
        // local mode: the tasks read the driver's tensors, as its inputs: no copy to count
        TaskShare shared = TaskShare.of(roomy, "driver", 8, 1, 0, roomy.inputBytes(), true, 0);
        assertThat(shared.need()).isEqualTo(one - roomy.inputBytes());
        assertThatThrownBy(() -> TaskShare.of(roomy, "driver", 8, 1, 0, roomy.inputBytes(), true, copy))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("copyBytes: expected 0 for tasks that share the driver's tensors, got " + copy);
    }

    /**
     * A cluster task's own copy of the parameters is the copy the plan's peak already counts (CostModel counts the
     * parameters in every block's peak, as the local run holds the caller's one copy): counted again (2026-12-07,
     * afternoon) a task needed the parameters twice, ran fewer tasks at once than fit, and an executor whose limit
     * held the plan's peak exactly was refused. What the plan does not count is the buffers a task copies too.
     */
    @Test
    void aClusterTaskCountsItsParametersOnceAsThePlanDoes() {
        Model m = Zoo.parse("fcn(depth=2,width=1024,out=4)");
        try (Params p = m.init(1, new int[] {8}, DType.F32)) {
            TilePlan plan = TilePlanner.of(EmpiricalNtk.of(m, p), KernelKind.trace()).tile(16).budget(1L << 30)
                    .workers(1).plan(64, 0, new int[] {8}, DType.F32);
            long one = plan.withWorkers(1, plan.budgetBytes()).predictedPeakBytes();
            long paramBytes = 0;
            for (org.ntk4j.tensor.Tensor t : p.tensors().values()) {
                paramBytes += 4L * t.size();
            }
            // the plan's one-worker peak holds the parameters (4 MiB here, most of it) beside the inputs
            assertThat(paramBytes).isGreaterThan(one / 4);
            assertThat(one).isGreaterThanOrEqualTo(plan.inputBytes() + paramBytes);
            Map<String, TensorData> params = TensorData.of(p.tensors());
            Map<String, TensorData> buffers = TensorData.of(p.buffers());
            long copy = TensorData.uncountedCopyBytes(params, buffers);
            assertThat(copy).isZero(); // no buffers
            TaskShare s = TaskShare.of(plan, "1", 8, 1, one, 0, false, copy);
            assertThat(s.need()).isEqualTo(one);
            assertThat(s.atOnce()).isEqualTo(1);
            TaskShare two = TaskShare.of(plan, "1", 8, 1, 2 * one, 0, false, copy);
            assertThat(two.atOnce()).isEqualTo(Math.min(2, Math.max(1, 8 / plan.blasThreads())));
        }
    }

    @Test
    void noMoreTasksComputeAtOnceThanTheShareAllows() throws Exception {
        TaskShare s = TaskShare.of(plan(1L << 30), "1", 2, 1, 0, 0, false, 0);
        int atOnce = s.atOnce();
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger most = new AtomicInteger();
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> tasks = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            Thread t = new Thread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                s.run("gate-test", null, () -> {
                    most.accumulateAndGet(inside.incrementAndGet(), Math::max);
                    try {
                        Thread.sleep(50);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    return inside.decrementAndGet();
                });
            });
            t.start();
            tasks.add(t);
        }
        start.countDown();
        for (Thread t : tasks) {
            t.join(TimeUnit.SECONDS.toMillis(30));
        }
        assertThat(most.get()).isEqualTo(atOnce);
    }

    @Test
    void aTaskOutOfMemoryFailsAsSuchAndTheDriverReportsAnOutOfMemoryError() {
        TaskShare s = TaskShare.of(plan(1L << 30), "3", 2, 1, 0, 0, false, 0);
        assertThatThrownBy(() -> s.run("oom-test", null, () -> {
            throw new OutOfMemoryError("Cannot allocate new FloatPointer");
        })).isInstanceOf(TaskShare.OutOfMemory.class)
                .hasMessageStartingWith("executor 3 ran out of memory (Cannot allocate new FloatPointer) with ")
                .hasMessageEndingWith("give executors more memory (spark.executor.memory) or fewer cores "
                        + "(spark.executor.cores)");
        // the driver: Spark's job failure whose cause is the task's
        SparkException oom = new SparkException("Job aborted", new TaskShare.OutOfMemory("executor 3 ran out"));
        assertThatThrownBy(() -> SparkKernelJob.jobFailure(oom, false)).isInstanceOf(OutOfMemoryError.class)
                .hasMessage("spark: executor 3 ran out");
        // a tile that is not finite: the local run's refusal, as it was thrown
        NonFiniteKernelException nonFinite = new NonFiniteKernelException("kernel: the result holds Infinity");
        assertThatThrownBy(() -> SparkKernelJob.jobFailure(new SparkException("Job aborted", nonFinite), false))
                .isSameAs(nonFinite);
        assertThat(SparkKernelJob.jobFailure(new SparkException("Job aborted", new IllegalStateException("boom")),
                false)).isInstanceOf(IOException.class).hasMessage("spark: the kernel job failed: boom (Job aborted)");
        assertThat(SparkKernelJob.jobFailure(new SparkException("Job 0 cancelled because SparkContext was shut down"),
                true)).hasMessage("spark: the Spark application stopped before the kernel job finished: Job 0 "
                + "cancelled because SparkContext was shut down");
    }

    /**
     * The tiles a task skips (every tile of the plan but its group's) are told without a set of them all: 50,000
     * images in tiles of 16 make 4.9 million tiles, and each task built a HashSet of them (some 300 MB of heap and
     * a second of work per task, thousands of tasks) before 2026-12-07.
     */
    @Test
    void aTaskSkipsTheOtherTilesWithoutASetOfThemAll() {
        int tiles = 1_000_000;
        int[] group = {7, 8, 9, 999_999};
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        com.sun.management.ThreadMXBean bytes = (com.sun.management.ThreadMXBean) mx;
        long before = bytes.getThreadAllocatedBytes(Thread.currentThread().getId());
        java.util.Set<Integer> skip = SparkKernelJob.allBut(tiles, group);
        long allocated = bytes.getThreadAllocatedBytes(Thread.currentThread().getId()) - before;
        assertThat(allocated).as("bytes allocated for the set of %d tiles", tiles).isLessThan(1L << 16);
        assertThat(skip).hasSize(tiles - group.length);
        for (int t : group) {
            assertThat(skip.contains(t)).as("tile %d", t).isFalse();
        }
        for (int t : new int[] {0, 6, 10, 500_000, 999_998}) {
            assertThat(skip.contains(t)).as("tile %d", t).isTrue();
        }
        assertThat(skip.contains(-1)).isFalse();
        assertThat(skip.contains(tiles)).isFalse();
        assertThat(SparkKernelJob.allBut(12, new int[] {0, 3, 11})).containsExactly(1, 2, 4, 5, 6, 7, 8, 9, 10);
    }

    /** About three tasks per slot of the executors registered, not of Spark's parallelism before they register. */
    @Test
    void tasksAreSizedFromTheExecutorsCores() {
        assertThat(SparkKernelJob.slots(Map.of("0", 8), 1, 2)).isEqualTo(8);
        assertThat(SparkKernelJob.slots(Map.of("0", 8, "1", 4), 2, 2)).isEqualTo(6);
        assertThat(SparkKernelJob.slots(Map.of(), 1, 5)).as("none registered: Spark's parallelism").isEqualTo(5);
        assertThat(SparkKernelJob.tilesPerTask(0, 50, 8)).isEqualTo(3);
        assertThat(SparkKernelJob.tilesPerTask(0, 50, 40)).isEqualTo(1);
        assertThat(SparkKernelJob.tilesPerTask(7, 50, 8)).as("the setting").isEqualTo(7);
    }
}

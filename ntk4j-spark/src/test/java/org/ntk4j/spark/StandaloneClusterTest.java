package org.ntk4j.spark;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.spark.ExceptionFailure;
import org.apache.spark.SparkConf;
import org.apache.spark.Success$;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.mllib.linalg.Matrix;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorRemoved;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.SparkListenerTaskStart;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.ExistingOutput;
import org.ntk4j.io.RunFingerprint;
import org.ntk4j.io.TileStore;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.Method;
import org.ntk4j.ntk.TilePlan;
import org.ntk4j.ntk.TilePlanner;
import org.ntk4j.ntk.TiledKernel;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * A real Spark standalone cluster: a master and two workers, each a separate JVM on 127.0.0.1 started from this
 * project's own dependencies (1 core, small heaps), whose workers start the executors as further JVMs. The kernel
 * computed there must be the single-machine run's file, byte for byte; then one worker (with its executor) is
 * killed mid-run and the job must still finish with the exact kernel. Every JVM started is stopped in
 * {@link #stop()}, and by a shutdown hook if this JVM dies first.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class StandaloneClusterTest {
    static final String MODEL = "fcn(depth=2,width=64,out=4)";
    static final int[] PER_EXAMPLE = {16};

    @TempDir
    static Path dir;

    private static LocalStandaloneCluster cluster;
    private static JavaSparkContext sc;
    private static final Set<String> EXECUTORS_WITH_TASKS = ConcurrentHashMap.newKeySet();
    private static final AtomicInteger FAILED_TASKS = new AtomicInteger();
    private static final AtomicInteger SUCCEEDED_TASKS = new AtomicInteger();
    private static final AtomicReference<TaskStartHook> ON_TASK_START = new AtomicReference<>();
    private static final CountDownLatch EXECUTOR_REMOVED = new CountDownLatch(1);

    interface TaskStartHook {
        void started(String executorId);
    }

    @BeforeAll
    static void start() throws Exception {
        cluster = LocalStandaloneCluster.start(dir.resolve("cluster"), 2, 1, "700m");
        SparkConf conf = cluster.applyTo(new SparkConf().setAppName("StandaloneClusterTest"))
                .set("spark.executor.memory", "512m")
                .set("spark.executor.cores", "1")
                .set("spark.task.maxFailures", "4");
        sc = new JavaSparkContext(conf);
        sc.sc().addSparkListener(new SparkListener() {
            @Override
            public void onTaskStart(SparkListenerTaskStart start) {
                TaskStartHook hook = ON_TASK_START.get();
                if (hook != null) {
                    hook.started(start.taskInfo().executorId());
                }
            }

            @Override
            public void onTaskEnd(SparkListenerTaskEnd end) {
                if (end.reason() == Success$.MODULE$) {
                    EXECUTORS_WITH_TASKS.add(end.taskInfo().executorId());
                    SUCCEEDED_TASKS.incrementAndGet();
                } else if (end.reason() instanceof ExceptionFailure
                        && ((ExceptionFailure) end.reason()).description().contains("injected failure")) {
                    FAILED_TASKS.incrementAndGet();
                }
            }

            @Override
            public void onExecutorRemoved(SparkListenerExecutorRemoved removed) {
                EXECUTOR_REMOVED.countDown();
            }
        });
        // both executors registered before any job, so that the work is shared from the start
        long deadline = System.currentTimeMillis() + 120_000;
        while (sc.sc().statusTracker().getExecutorInfos().length < 3) { // the driver and two executors
            assertThat(System.currentTimeMillis()).as("executors did not register").isLessThan(deadline);
            Thread.sleep(100);
        }
    }

    @AfterAll
    static void stop() {
        try {
            if (sc != null) {
                sc.close();
            }
        } finally {
            if (cluster != null) {
                cluster.close();
            }
        }
    }

    private static TilePlan plan(Params params, String kind, int n1, int n2, int tile) {
        EmpiricalNtk ntk = EmpiricalNtk.of(Zoo.parse(MODEL), params).method(Method.AUTO);
        return TilePlanner.of(ntk, KernelKind.parse(kind, 3)).tile(tile).plan(n1, n2, PER_EXAMPLE, DType.F64);
    }

    private static Path localRun(TilePlan plan, Params params, Tensor x1, Tensor x2, Path out) throws IOException {
        try (TileStore store = TileStore.create(out, plan, RunFingerprint.of(MODEL, params, x1, x2))) {
            new TiledKernel(EmpiricalNtk.of(Zoo.parse(MODEL), params), plan, x1, x2).run(Set.of(), store::write,
                    null);
            store.finish();
        }
        return out;
    }

    @Test
    @Order(1)
    void theClusterComputesTheSingleMachineKernelBitForBit() throws IOException {
        try (Params params = Zoo.parse(MODEL).init(11, PER_EXAMPLE, DType.F64);
             Tensor x1 = Tensor.randomNormal(DType.F64, 1, 40, 16);
             Tensor x2 = Tensor.randomNormal(DType.F64, 2, 24, 16)) {
            for (String kind : new String[] {"full", "pntk"}) {
                for (Tensor b : new Tensor[] {null, x2}) {
                    TilePlan plan = plan(params, kind, 40, b == null ? 0 : 24, 16);
                    String name = kind + (b == null ? "-sym" : "-x2");
                    Path local = localRun(plan, params, x1, b, dir.resolve(name + "-local.npy"));
                    Path spark = dir.resolve(name + "-cluster.npy");
                    SparkKernelJob.run(sc, MODEL, params, x1, b, plan, spark, ExistingOutput.REFUSE, null);
                    assertThat(Files.readAllBytes(spark)).as(name).isEqualTo(Files.readAllBytes(local));
                }
            }
            // both executors took part, on their own JVMs
            assertThat(EXECUTORS_WITH_TASKS).hasSize(2).doesNotContain("driver");

            // the result as an MLlib BlockMatrix read by the executors
            Matrix m = KernelBlockMatrix.of(sc, dir.resolve("pntk-x2-cluster.npy"), 7).toLocalMatrix();
            try (Tensor k = org.ntk4j.io.Npy.readTensor(dir.resolve("pntk-x2-local.npy"))) {
                for (int i = 0; i < 40; i++) {
                    for (int j = 0; j < 24; j++) {
                        assertThat(m.apply(i, j)).isEqualTo(k.get(i, j));
                    }
                }
            }
        }
    }

    @Test
    @Order(2)
    void aTaskFailingOnItsFirstAttemptOnTheClusterIsRetried() throws Exception {
        try (Params params = Zoo.parse(MODEL).init(12, PER_EXAMPLE, DType.F64);
             Tensor x1 = Tensor.randomNormal(DType.F64, 3, 40, 16)) {
            TilePlan plan = plan(params, "diagonal", 40, 0, 16);
            Path local = localRun(plan, params, x1, null, dir.resolve("retry-local.npy"));
            int failedBefore = FAILED_TASKS.get();
            sc.setLocalProperty(SparkKernelJob.FAIL_FIRST_ATTEMPT, "2");
            try {
                SparkKernelJob.run(sc, MODEL, params, x1, null, plan, dir.resolve("retry.npy"),
                        ExistingOutput.REFUSE, null);
            } finally {
                sc.setLocalProperty(SparkKernelJob.FAIL_FIRST_ATTEMPT, null);
            }
            assertThat(Files.readAllBytes(dir.resolve("retry.npy"))).isEqualTo(Files.readAllBytes(local));
            awaitAtLeast(FAILED_TASKS, failedBefore + 1);
            assertThat(FAILED_TASKS.get() - failedBefore).isEqualTo(1);
        }
    }

    @Test
    @Order(3)
    void aWorkerKilledMidRunLosesNothing() throws Exception {
        try (Params params = Zoo.parse(MODEL).init(13, PER_EXAMPLE, DType.F64);
             Tensor x1 = Tensor.randomNormal(DType.F64, 4, 160, 16)) {
            TilePlan plan = plan(params, "trace", 160, 0, 16); // 10 × 10 grid: 55 tiles, one task each
            Path local = localRun(plan, params, x1, null, dir.resolve("kill-local.npy"));
            int succeededBefore = SUCCEEDED_TASKS.get();
            AtomicInteger recordedAtKill = new AtomicInteger(-1);
            AtomicInteger recorded = new AtomicInteger();
            // once some tasks have succeeded, kill the worker whose executor has just started a task (SIGKILL to
            // the worker and its executor, as a lost machine), from another thread: listeners must not block
            ON_TASK_START.set(executor -> {
                if (SUCCEEDED_TASKS.get() - succeededBefore >= 2 && recordedAtKill.compareAndSet(-1, recorded.get())) {
                    ON_TASK_START.set(null);
                    Thread killer = new Thread(() -> cluster.killWorker(workerOf(executor)), "kill-worker");
                    killer.start();
                }
            });
            sc.setLocalProperty(SparkKernelJob.TILES_PER_TASK, "1");
            Path out = dir.resolve("kill.npy");
            try {
                SparkKernelJob.run(sc, MODEL, params, x1, null, plan, out, ExistingOutput.REFUSE,
                        (tiles, done, total) -> recorded.set(done));
            } finally {
                sc.setLocalProperty(SparkKernelJob.TILES_PER_TASK, null);
                ON_TASK_START.set(null);
            }
            assertThat(recordedAtKill.get()).as("the kill came mid-run").isBetween(0, plan.tileCount() - 1);
            assertThat(EXECUTOR_REMOVED.await(60, TimeUnit.SECONDS)).as("the driver lost an executor").isTrue();
            assertThat(Files.readAllBytes(out)).isEqualTo(Files.readAllBytes(local));
        }
    }

    /** Executor ids are given in registration order; worker i's executor is found through its log. */
    private static int workerOf(String executorId) {
        for (int i = 0; i < cluster.workerCount(); i++) {
            if (cluster.workerLaunchedExecutor(i, executorId)) {
                return i;
            }
        }
        throw new IllegalStateException("no worker launched executor " + executorId);
    }

    private static void awaitAtLeast(AtomicInteger counter, int value) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 10_000;
        while (counter.get() < value && System.currentTimeMillis() < deadline) {
            Thread.sleep(20);
        }
    }
}

package org.ntk4j.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.ExceptionFailure;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.ntk4j.io.ExistingOutput;
import org.ntk4j.io.Npy;
import org.ntk4j.io.RunFingerprint;
import org.ntk4j.io.TileStore;
import org.ntk4j.nn.Model;
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
 * The Spark job on {@code local[2]} (tasks retried up to 4 times, as on a cluster) against the single-machine
 * run: the same file, byte for byte, in float64, for every kind, with x2 = x1 and with x2 given; resumes across
 * the two; a task that fails on its first attempt after writing a wrong block.
 */
class SparkKernelJobTest {
    static final String MODEL = "fcn(depth=2,width=12,out=3)";
    static final int[] PER_EXAMPLE = {5};

    private static JavaSparkContext sc;
    private static final AtomicInteger FAILED_TASKS = new AtomicInteger();

    @TempDir
    Path dir;

    private Params params;
    private Tensor x1;
    private Tensor x2;

    @BeforeAll
    static void start() {
        sc = new JavaSparkContext(SparkTesting.localConf(2, 4).setAppName("SparkKernelJobTest"));
        sc.sc().addSparkListener(new SparkListener() {
            @Override
            public void onTaskEnd(SparkListenerTaskEnd end) {
                // failures injected by the fault hook (a cancelled job's interrupted tasks fail otherwise)
                if (end.reason() instanceof ExceptionFailure
                        && ((ExceptionFailure) end.reason()).description().contains("injected failure")) {
                    FAILED_TASKS.incrementAndGet();
                }
            }
        });
    }

    @AfterAll
    static void stop() {
        if (sc != null) {
            sc.close();
        }
    }

    private void data() {
        Model model = Zoo.parse(MODEL);
        params = model.init(7, PER_EXAMPLE, DType.F64);
        x1 = Tensor.randomNormal(DType.F64, 11, 64, 5);
        x2 = Tensor.randomNormal(DType.F64, 12, 40, 5);
    }

    @AfterEach
    void close() {
        for (AutoCloseable c : new AutoCloseable[] {params, x1, x2}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
        sc.setLocalProperty(SparkKernelJob.FAIL_FIRST_ATTEMPT, null);
        sc.setLocalProperty(SparkKernelJob.TILES_PER_TASK, null);
    }

    /** The plan the CLI would make, with tiles of 16 examples (64 × 64: 10 upper tiles; 64 × 40: 12 tiles). */
    private TilePlan plan(String kind, Method method, boolean symmetric) {
        EmpiricalNtk ntk = EmpiricalNtk.of(Zoo.parse(MODEL), params).method(method);
        return TilePlanner.of(ntk, KernelKind.parse(kind, 5)).tile(16)
                .plan(x1.dim(0), symmetric ? 0 : x2.dim(0), PER_EXAMPLE, DType.F64);
    }

    /** What the single-machine tiled run writes (every tile, in one JVM, through the same store). */
    private Path localRun(TilePlan plan, Tensor b, String name) throws IOException {
        Path out = dir.resolve(name);
        try (TileStore store = TileStore.create(out, plan, RunFingerprint.of(MODEL, params, x1, b))) {
            new TiledKernel(EmpiricalNtk.of(Zoo.parse(MODEL), params), plan, x1, b).run(Set.of(), store::write, null);
            store.finish();
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"full", "trace", "diagonal", "pntk", "pntk-unscaled", "logit:1", "probes:3",
        "projected:40"})
    void everyKindEqualsTheSingleMachineKernelBitForBit(String kind) throws IOException {
        data();
        for (boolean symmetric : new boolean[] {true, false}) {
            Tensor b = symmetric ? null : x2;
            TilePlan plan = plan(kind, Method.AUTO, symmetric);
            assertThat(plan.tileCount()).isGreaterThan(4);
            Path local = localRun(plan, b, kind + symmetric + "-local.npy");
            Path spark = dir.resolve(kind + symmetric + "-spark.npy");
            SparkKernelJob.Summary s = SparkKernelJob.run(sc, MODEL, params, x1, b, plan, spark,
                    ExistingOutput.REFUSE, null);
            assertThat(s.tilesComputed()).isEqualTo(plan.tileCount());
            assertThat(Files.readAllBytes(spark)).isEqualTo(Files.readAllBytes(local));
            assertThat(TileStore.unfinished(spark)).isFalse();
            assertThat(Files.exists(TileStore.partialPath(spark))).isFalse();
            // and the untiled kernel by the same method, to rounding: the exact reference of a tiled run is the
            // single-machine run of the same plan (above); the tiles issue owns tiled-versus-untiled bits
            try (Tensor k = Npy.readTensor(spark);
                 Tensor ref = EmpiricalNtk.of(Zoo.parse(MODEL), params).method(plan.method())
                         .kernel(KernelKind.parse(kind, 5), x1, b)) {
                assertThat(k.shape()).isEqualTo(ref.shape());
                double[] a = k.toDoubleArray();
                double[] r = ref.toDoubleArray();
                double scale = 0;
                for (double v : r) {
                    scale = Math.max(scale, Math.abs(v));
                }
                for (int i = 0; i < a.length; i++) {
                    assertThat(Math.abs(a[i] - r[i])).as("%s, x2 = x1: %s, entry %d", kind, symmetric, i)
                            .isLessThanOrEqualTo(1e-13 * scale);
                }
            }
        }
    }

    @Test
    void everyMethodAndTaskGrouping() throws IOException {
        data();
        for (Method m : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
            Method.STRUCTURED_DERIVATIVES}) {
            TilePlan plan = plan("full", m, true);
            Path local = localRun(plan, null, m.shortName() + "-local.npy");
            for (int perTask : new int[] {1, 2, 100}) {
                sc.setLocalProperty(SparkKernelJob.TILES_PER_TASK, Integer.toString(perTask));
                Path spark = dir.resolve(m.shortName() + perTask + "-spark.npy");
                SparkKernelJob.Summary s = SparkKernelJob.run(sc, MODEL, params, x1, null, plan, spark,
                        ExistingOutput.REFUSE, null);
                // groups never cross a row of the 4 × 4 grid (rows of 4, 3, 2, 1 upper tiles)
                assertThat(s.tasks()).isEqualTo(perTask == 1 ? 10 : perTask == 2 ? 6 : 4);
                // the largest task's tiles, as the report and the log line say: a row's 4, not the setting's 100
                assertThat(s.tilesPerTask()).isEqualTo(Math.min(perTask, 4));
                assertThat(Files.readAllBytes(spark)).isEqualTo(Files.readAllBytes(local));
            }
        }
    }

    /**
     * A model with batch-norm running statistics (buffers) that a parameter file carries: the executors rebuild the
     * layers from the spec, so the statistics travel with the parameters, and the file equals the local run with
     * them — not the kernel of the declared defaults (mean 0, variance 1).
     */
    @Test
    void runningStatisticsTravelWithTheParameters() throws IOException {
        String spec = "resnet18(width=2,out=3)";
        int[] in = {8, 8, 3};
        Model base = Zoo.parse(spec);
        java.util.Map<String, Tensor> buffers = new java.util.LinkedHashMap<>();
        java.util.Random r = new java.util.Random(3);
        for (org.ntk4j.nn.ParamSpec b : base.bufferSpecs(in)) {
            Tensor t = Tensor.zeros(DType.F64, b.shape());
            for (int i = 0; i < t.size(); i++) {
                t.setFlat(i, b.path().endsWith("running_var") ? 0.5 + r.nextDouble() : 0.3 * r.nextGaussian());
            }
            buffers.put(b.path(), t);
        }
        java.util.Map<String, Tensor> weights = new java.util.LinkedHashMap<>();
        try (Params drawn = base.init(4, in, DType.F64)) { // its buffers are the defaults
            drawn.tensors().forEach((name, t) -> weights.put(name, t.copy()));
        }
        try (Params p = new Params(weights, buffers);
             Tensor x = Tensor.randomNormal(DType.F64, 6, 24, 8, 8, 3)) {
            Model trained = base.withBuffers(p.buffers());
            TilePlan plan = TilePlanner.of(EmpiricalNtk.of(trained, p), KernelKind.parse("trace", 3)).tile(8)
                    .plan(24, 0, in, DType.F64);
            Path local = dir.resolve("bn-local.npy");
            try (TileStore store = TileStore.create(local, plan, RunFingerprint.of(spec, p, x, null))) {
                new TiledKernel(EmpiricalNtk.of(trained, p), plan, x, null).run(Set.of(), store::write, null);
                store.finish();
            }
            Path spark = dir.resolve("bn-spark.npy");
            SparkKernelJob.run(sc, spec, p, x, null, plan, spark, ExistingOutput.REFUSE, null);
            assertThat(Files.readAllBytes(spark)).isEqualTo(Files.readAllBytes(local));
            try (Tensor k = Npy.readTensor(spark); Params drawn = base.init(4, in, DType.F64); // default buffers
                 Tensor defaults = EmpiricalNtk.of(base, drawn).method(plan.method())
                         .kernel(KernelKind.parse("trace", 3), x, null)) {
                double diff = 0;
                for (int i = 0; i < k.size(); i++) {
                    diff = Math.max(diff, Math.abs(k.getFlat(i) - defaults.getFlat(i)));
                }
                assertThat(diff).as("the running statistics change the kernel").isGreaterThan(1e-6);
            }
            try (Params plain = base.init(4, in, DType.F64)) {
                assertThat(RunFingerprint.of(spec, p, x, null)).as("buffers are part of a run's fingerprint")
                        .isNotEqualTo(RunFingerprint.of(spec, plain, x, null));
            }
        }
    }

    /**
     * Each task computes on one worker (TiledKernel starts no worker threads), not on the plan's 2 (which local[2]
     * would run as 4 threads on 2 cores), and no more tasks compute at once than the plan's budget holds: a plan for
     * 2 workers whose budget is its predicted peak runs within that budget, the driver's inputs and parameters
     * counted (in local mode the tasks read them, held once as in the local run, {@link DriverInputs}).
     */
    @Test
    void theTasksStayWithinThePlansBudget() throws IOException, InterruptedException {
        // inputs large beside a block: each task's own copy of them counts
        String spec = "fcn(depth=2,width=32,out=4)";
        Model model = Zoo.parse(spec);
        try (Params p = model.init(3, new int[] {256}, DType.F64);
             Tensor x = Tensor.randomNormal(DType.F64, 5, 192, 256)) {
            TilePlan sized = TilePlanner.of(EmpiricalNtk.of(model, p), KernelKind.full()).tile(32).workers(2)
                    .plan(192, 0, new int[] {256}, DType.F64);
            TilePlan plan = sized.withWorkers(2, sized.predictedPeakBytes());
            Path local = dir.resolve("budget-local.npy");
            try (TileStore store = TileStore.create(local, plan, RunFingerprint.of(spec, p, x, null))) {
                new TiledKernel(EmpiricalNtk.of(model, p), plan, x, null).run(Set.of(), store::write, null);
                store.finish();
            }
            sc.setLocalProperty(SparkKernelJob.TILES_PER_TASK, "3");
            Path spark = dir.resolve("budget-spark.npy");
            long deadline = System.currentTimeMillis() + 10_000; // the local run's pool winds down
            while (tileWorkers() > 0 && System.currentTimeMillis() < deadline) {
                Thread.onSpinWait();
            }
            AtomicInteger mostWorkers = new AtomicInteger();
            java.util.concurrent.atomic.AtomicBoolean running = new java.util.concurrent.atomic.AtomicBoolean(true);
            Thread sampler = new Thread(() -> {
                while (running.get()) {
                    mostWorkers.accumulateAndGet(tileWorkers(), Math::max);
                    try {
                        Thread.sleep(1);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "worker-sampler");
            // the driver's inputs and parameters count, as in a local run's peak
            long base = Tensor.liveBytes() - x.bytes() - p.count() * DType.F64.bytes();
            Tensor.resetPeakBytes();
            sampler.start();
            try {
                SparkKernelJob.run(sc, spec, p, x, null, plan, spark, ExistingOutput.REFUSE, null);
            } finally {
                running.set(false);
            }
            sampler.join();
            long measured = Tensor.peakBytes() - base;
            assertThat(mostWorkers.get()).as("TiledKernel's worker threads").isZero();
            assertThat(measured).as("the inputs and the tasks' tensors at their peak").isPositive()
                    .isLessThanOrEqualTo(plan.budgetBytes());
            assertThat(Files.readAllBytes(spark)).isEqualTo(Files.readAllBytes(local));
        }
    }

    private static int tileWorkers() {
        int n = 0;
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith("ntk4j-tile") && t.isAlive()) {
                n++;
            }
        }
        return n;
    }

    @Test
    void groupsFollowPlanOrderWithinRows() {
        data();
        TilePlan plan = plan("trace", Method.AUTO, true); // rows of 4, 3, 2, 1 tiles: 0-3, 4-6, 7-8, 9
        List<int[]> g = SparkKernelJob.groups(plan, Set.of(1, 5), 2);
        List<String> text = new ArrayList<>();
        for (int[] a : g) {
            text.add(java.util.Arrays.toString(a));
        }
        assertThat(text).containsExactly("[0, 2]", "[3]", "[4, 6]", "[7, 8]", "[9]");
    }

    @Test
    void aTaskThatFailsAfterWritingAWrongBlockIsRetriedAndTheKernelIsExact() throws IOException {
        data();
        TilePlan plan = plan("full", Method.AUTO, false);
        Path local = localRun(plan, x2, "local.npy");
        int before = FAILED_TASKS.get();
        sc.setLocalProperty(SparkKernelJob.FAIL_FIRST_ATTEMPT, "5");
        Path spark = dir.resolve("spark.npy");
        List<Integer> recorded = new ArrayList<>();
        SparkKernelJob.run(sc, MODEL, params, x1, x2, plan, spark, ExistingOutput.REFUSE, (tiles, done, total) -> {
            for (int t : tiles) {
                recorded.add(t);
            }
        });
        assertThat(Files.readAllBytes(spark)).isEqualTo(Files.readAllBytes(local));
        // every tile recorded exactly once, although tile 5's task ran twice
        assertThat(recorded).hasSize(plan.tileCount()).doesNotHaveDuplicates();
        long deadline = System.currentTimeMillis() + 10_000;
        while (FAILED_TASKS.get() == before && System.currentTimeMillis() < deadline) {
            Thread.onSpinWait();
        }
        assertThat(FAILED_TASKS.get() - before).isEqualTo(1);
    }

    /**
     * NaN or ±∞ in x1, x2 or a parameter is refused on the driver, in one line naming it, before any file or task:
     * before 2026-12-07 the job started, every task holding the example failed all its attempts on the executors,
     * and the run ended in "spark: the kernel job failed: ..." with its files left for a --resume that could not
     * finish.
     */
    @Test
    void nonFiniteInputsAreRefusedOnTheDriverBeforeAnyFileOrTask() throws IOException {
        data();
        TilePlan plan = plan("trace", Method.AUTO, false);
        int before = FAILED_TASKS.get();
        long jobsBefore = sc.statusTracker().getJobIdsForGroup(null).length;
        try (Tensor badX2 = x2.copy(); Params badParams = Zoo.parse(MODEL).init(7, PER_EXAMPLE, DType.F64)) {
            badX2.setFlat(3 * 5 + 2, Double.NaN);
            Path out = dir.resolve("nan.npy");
            assertThatThrownBy(() -> SparkKernelJob.run(sc, MODEL, params, x1, badX2, plan, out,
                    ExistingOutput.REFUSE, null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("x2: contains a non-finite value (NaN) at flat index 17");
            Tensor w = badParams.tensors().values().iterator().next();
            w.setFlat(1, Double.POSITIVE_INFINITY);
            String name = badParams.tensors().keySet().iterator().next();
            assertThatThrownBy(() -> SparkKernelJob.run(sc, MODEL, badParams, x1, x2, plan, out,
                    ExistingOutput.REFUSE, null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("parameters: '" + name + "' has a non-finite value (Infinity) at flat index 1");
            try (java.util.stream.Stream<Path> left = Files.list(dir)) {
                assertThat(left).isEmpty();
            }
        }
        assertThat(sc.statusTracker().getJobIdsForGroup(null)).hasSize((int) jobsBefore);
        assertThat(FAILED_TASKS.get()).isEqualTo(before);
    }

    /**
     * A retried task takes the tiles its failed attempt finished (noted in its journal, held by the file) as they
     * are and computes only the rest: here the first attempt of the task of tiles 0 to 3 finishes 0 and 1, writes a
     * wrong tile 2 and fails; the retry notes only 2 and 3. Before 2026-12-07 a retry computed its whole group again.
     */
    @Test
    void aRetriedTaskComputesOnlyWhatItsFailedAttemptDidNotFinish() throws IOException {
        data();
        TilePlan plan = plan("trace", Method.AUTO, true);
        Path local = localRun(plan, null, "local.npy");
        sc.setLocalProperty(SparkKernelJob.TILES_PER_TASK, "4");
        sc.setLocalProperty(SparkKernelJob.FAIL_FIRST_ATTEMPT, "2");
        Path spark = dir.resolve("spark.npy");
        Map<Integer, Integer> notes = new HashMap<>();
        SparkKernelJob.run(sc, MODEL, params, x1, null, plan, spark, ExistingOutput.REFUSE, (tiles, done, total) -> {
            if (tiles[0] != 0) {
                return;
            }
            // the journals are read before the finish removes them: how often each tile of the group was noted
            try (java.util.stream.Stream<Path> files = Files.list(TileStore.journalPath(spark))) {
                for (Path f : files.toList()) {
                    for (String line : Files.readAllLines(f)) {
                        notes.merge(Integer.parseInt(line.split(" ")[1]), 1, Integer::sum);
                    }
                }
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        assertThat(notes).containsEntry(0, 1).containsEntry(1, 1).containsEntry(2, 1).containsEntry(3, 1);
        assertThat(Files.readAllBytes(spark)).isEqualTo(Files.readAllBytes(local));
        assertThat(TileStore.journalPath(spark)).doesNotExist();
    }

    @Test
    void aLocalRunResumedOnSparkAndASparkRunResumedLocally() throws IOException {
        data();
        TilePlan plan = plan("diagonal", Method.AUTO, true);
        Path whole = localRun(plan, null, "whole.npy");
        String fp = RunFingerprint.of(MODEL, params, x1, null);

        // a local run that stopped after 4 tiles (its manifest records them), resumed on Spark
        Path a = dir.resolve("a.npy");
        TiledKernel tiles = new TiledKernel(EmpiricalNtk.of(Zoo.parse(MODEL), params), plan, x1, null);
        try (TileStore store = TileStore.create(a, plan, fp)) {
            Set<Integer> skip = new HashSet<>();
            for (int i = 4; i < plan.tileCount(); i++) {
                skip.add(i);
            }
            tiles.run(skip, store::write, null);
        }
        SparkKernelJob.Summary s = SparkKernelJob.run(sc, MODEL, params, x1, null, plan, a,
                ExistingOutput.RESUME, null);
        assertThat(s.tilesResumed()).isEqualTo(4);
        assertThat(s.tilesComputed()).isEqualTo(plan.tileCount() - 4);
        assertThat(Files.readAllBytes(a)).isEqualTo(Files.readAllBytes(whole));

        // a Spark run whose driver stops after its first recorded task, resumed by the single-machine run
        Path b = dir.resolve("b.npy");
        sc.setLocalProperty(SparkKernelJob.TILES_PER_TASK, "1");
        assertThatThrownBy(() -> SparkKernelJob.run(sc, MODEL, params, x1, null, plan, b, ExistingOutput.REFUSE,
                (t, done, total) -> {
                    throw new IllegalStateException("driver stops");
                })).isInstanceOf(IllegalStateException.class);
        assertThat(TileStore.unfinished(b)).isTrue();
        // the job's other tasks were cancelled or finish unrecorded: the manifest no longer changes
        Path manifest = dir.resolve("b.npy.manifest");
        byte[] atStop = Files.readAllBytes(manifest);
        long deadline = System.currentTimeMillis() + 30_000;
        while (sc.statusTracker().getActiveJobIds().length > 0 && System.currentTimeMillis() < deadline) {
            Thread.onSpinWait();
        }
        assertThat(sc.statusTracker().getActiveJobIds()).isEmpty();
        assertThat(Files.readAllBytes(manifest)).isEqualTo(atStop);
        assertThat(Files.exists(b)).isFalse();
        try (TileStore store = TileStore.resume(b, plan, fp)) {
            // the first group(s) whose results reached the driver before it stopped, and the tiles that the tasks
            // still running then finished and noted in their journals (all of them, at most)
            assertThat(store.finishedTiles()).isNotEmpty();
            tiles.run(store.finishedTiles(), store::write, null);
            store.finish();
        }
        assertThat(Files.readAllBytes(b)).isEqualTo(Files.readAllBytes(whole));
    }

    /**
     * What {@link ExistingOutput} says of what is at OUT: REFUSE refuses an unfinished run and a finished OUT before
     * any file changes (the lock released), OVERWRITE starts afresh over either (the same bytes as a run on an empty
     * OUT), RESUME refuses an OUT with no unfinished run.
     */
    @Test
    void existingOutputRefusesOverwritesOrResumesWhatIsThere() throws IOException {
        data();
        TilePlan plan = plan("trace", Method.AUTO, true);
        Path whole = localRun(plan, null, "whole.npy");
        Path out = dir.resolve("k.npy");
        // an unfinished run of 3 tiles, as a killed run leaves it
        try (TileStore store = TileStore.create(out, plan, RunFingerprint.of(MODEL, params, x1, null),
                RunFingerprint.parts(MODEL, params, x1, null))) {
            new TiledKernel(EmpiricalNtk.of(Zoo.parse(MODEL), params), plan, x1, null).run(Set.of(3, 4, 5, 6, 7, 8,
                    9), store::write, null);
        }
        byte[] manifest = Files.readAllBytes(TileStore.manifestPath(out));
        assertThatThrownBy(() -> SparkKernelJob.run(sc, MODEL, params, x1, null, plan, out, ExistingOutput.REFUSE,
                null)).isInstanceOf(IllegalArgumentException.class).hasMessage(out + " has an unfinished run ("
                + TileStore.partialPath(out) + ", " + TileStore.manifestPath(out) + "); pass --resume to continue "
                + "it, or --overwrite to discard it and start again");
        assertThat(Files.readAllBytes(TileStore.manifestPath(out))).isEqualTo(manifest);
        assertThat(TileStore.lockPath(out)).doesNotExist();

        SparkKernelJob.Summary s = SparkKernelJob.run(sc, MODEL, params, x1, null, plan, out,
                ExistingOutput.OVERWRITE, null);
        assertThat(s.tilesResumed()).isZero();
        assertThat(s.tilesComputed()).isEqualTo(plan.tileCount());
        assertThat(Files.readAllBytes(out)).isEqualTo(Files.readAllBytes(whole));

        assertThatThrownBy(() -> SparkKernelJob.run(sc, MODEL, params, x1, null, plan, out, ExistingOutput.REFUSE,
                null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("--out " + out + " exists; pass --overwrite to replace it");
        assertThatThrownBy(() -> SparkKernelJob.run(sc, MODEL, params, x1, null, plan, out, ExistingOutput.RESUME,
                null)).isInstanceOf(IOException.class).hasMessageStartingWith("--resume: no unfinished run at " + out);
        assertThat(TileStore.partialPath(out)).doesNotExist();
        assertThat(TileStore.manifestPath(out)).doesNotExist();
        assertThat(Files.readAllBytes(out)).isEqualTo(Files.readAllBytes(whole));
    }

    /**
     * {@link SparkKernelJob#run} claims OUT as the CLI's run does ({@link TileStore#lock}): a second run on the same
     * OUT while one holds it (another job of this driver, another process) is refused before it touches the first
     * one's files; before 2026-12-07 it took no lock and truncated them.
     */
    @Test
    void aRunOnAnOutputAnotherRunHoldsIsRefusedAndItsFilesAreLeftAlone() throws IOException {
        data();
        TilePlan plan = plan("trace", Method.AUTO, true);
        Path out = dir.resolve("k.npy");
        String fp = RunFingerprint.of(MODEL, params, x1, null);
        try (TileStore.RunLock live = TileStore.lock(out);
             TileStore store = TileStore.create(out, plan, fp)) {
            new TiledKernel(EmpiricalNtk.of(Zoo.parse(MODEL), params), plan, x1, null)
                    .run(Set.of(1, 2, 3, 4, 5, 6, 7, 8, 9), store::write, null);
            byte[] manifest = Files.readAllBytes(TileStore.manifestPath(out));
            byte[] partial = Files.readAllBytes(TileStore.partialPath(out));
            for (ExistingOutput existing : new ExistingOutput[] {ExistingOutput.OVERWRITE,
                    ExistingOutput.RESUME}) {
                assertThatThrownBy(() -> SparkKernelJob.run(sc, MODEL, params, x1, null, plan, out, existing,
                        null))
                        .isInstanceOf(IOException.class).hasMessage("another ntk4j is writing " + out);
                assertThat(Files.readAllBytes(TileStore.manifestPath(out))).isEqualTo(manifest);
                assertThat(Files.readAllBytes(TileStore.partialPath(out))).isEqualTo(partial);
                assertThat(out).doesNotExist();
            }
        }
        // released: the run resumes it, and lets OUT go when it ends
        SparkKernelJob.Summary s = SparkKernelJob.run(sc, MODEL, params, x1, null, plan, out,
                ExistingOutput.RESUME, null);
        assertThat(s.tilesResumed()).isEqualTo(1);
        assertThat(s.tilesComputed()).isEqualTo(plan.tileCount() - 1);
        assertThat(Files.readAllBytes(out)).isEqualTo(Files.readAllBytes(localRun(plan, null, "whole.npy")));
        assertThat(TileStore.lockPath(out)).doesNotExist();
        TileStore.lock(out).close();
    }

    /**
     * OUT a symbolic link: the run's files are its target's ({@code AtomicFile.destination}), as a local
     * {@code TiledKernelRun}'s and the claim's: a local run of the link left unfinished (its files beside the
     * target) is resumed on Spark through the link, the link stays a link to the finished kernel, and REFUSE then
     * refuses the target. Found in review (2026-12-07): the claim looked at the target while the store was the
     * link's, so RESUME found no manifest ("--resume: no unfinished run"), REFUSE did not see an unfinished run
     * beside the link, and a finish renamed the link's OUT.partial over the link.
     */
    @Test
    void aSymbolicLinkAsOutWritesItsTargetAsALocalRunDoes() throws IOException {
        data();
        TilePlan plan = plan("trace", Method.AUTO, true);
        Path whole = localRun(plan, null, "whole.npy");
        Path target = dir.resolve("target.npy");
        Path link = Files.createSymbolicLink(dir.resolve("link.npy"), Path.of("target.npy"));
        Set<Integer> skip = new HashSet<>();
        for (int i = 3; i < plan.tileCount(); i++) {
            skip.add(i);
        }
        try (TileStore store = TileStore.create(target, plan, RunFingerprint.of(MODEL, params, x1, null),
                RunFingerprint.parts(MODEL, params, x1, null))) {
            new TiledKernel(EmpiricalNtk.of(Zoo.parse(MODEL), params), plan, x1, null).run(skip, store::write, null);
        }
        SparkKernelJob.Summary s = SparkKernelJob.run(sc, MODEL, params, x1, null, plan, link,
                ExistingOutput.RESUME, null);
        assertThat(s.tilesResumed()).isEqualTo(3);
        assertThat(s.tilesComputed()).isEqualTo(plan.tileCount() - 3);
        assertThat(Files.isSymbolicLink(link)).isTrue();
        assertThat(Files.readAllBytes(target)).isEqualTo(Files.readAllBytes(whole));
        for (Path p : new Path[] {target, link}) {
            assertThat(TileStore.partialPath(p)).doesNotExist();
            assertThat(TileStore.manifestPath(p)).doesNotExist();
            assertThat(TileStore.lockPath(p)).doesNotExist();
        }
        assertThatThrownBy(() -> SparkKernelJob.run(sc, MODEL, params, x1, null, plan, link, ExistingOutput.REFUSE,
                null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("--out " + target + " exists; pass --overwrite to replace it");
        SparkKernelJob.run(sc, MODEL, params, x1, null, plan, link, ExistingOutput.OVERWRITE, null);
        assertThat(Files.isSymbolicLink(link)).isTrue();
        assertThat(Files.readAllBytes(target)).isEqualTo(Files.readAllBytes(whole));
    }

    @Test
    void resumingAnotherRunIsRefused() throws IOException {
        data();
        TilePlan plan = plan("trace", Method.AUTO, true);
        Path out = dir.resolve("k.npy");
        try (TileStore store = TileStore.create(out, plan, RunFingerprint.of(MODEL, params, x1, null),
                RunFingerprint.parts(MODEL, params, x1, null))) {
            assertThat(store.finishedTiles()).isEmpty();
        }
        // the manifest records the parts' fingerprints (as SparkKernelJob.run writes it): the refusal names x1
        try (Tensor other = Tensor.randomNormal(DType.F64, 99, 64, 5)) {
            assertThatThrownBy(() -> SparkKernelJob.run(sc, MODEL, params, other, null, plan, out,
                    ExistingOutput.RESUME, null))
                    .isInstanceOf(IOException.class).hasMessageContaining("was written for another run")
                    .hasMessageContaining("(x1 differs)");
        }
    }
}

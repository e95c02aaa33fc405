package org.ntk4j.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext$;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.RunFingerprint;
import org.ntk4j.io.TileStore;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.TilePlan;
import org.ntk4j.ntk.TilePlanner;
import org.ntk4j.ntk.TiledKernel;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The service that {@code kernel --spark} uses: the run's configuration (local masters retried, the driver's
 * OpenBLAS core type for the executors, the job's settings checked), a connection that fails in one message and
 * leaves no context running, a local run whose failed first attempt is retried, and what it reports.
 */
class SparkClusterTilesTest {
    static final String MODEL = "fcn(depth=2,width=12,out=3)";

    @TempDir
    Path dir;

    @AfterEach
    void clear() {
        for (String key : new String[] {"spark.task.maxFailures", SparkKernelJob.TILES_PER_TASK,
            SparkKernelJob.FAIL_FIRST_ATTEMPT, "spark.testing.memory", "spark.driver.host",
            "spark.driver.bindAddress"}) {
            System.clearProperty(key);
        }
    }

    private static SparkConf configure(String master, Map<String, String> env) throws IOException {
        return SparkClusterTiles.configure(new SparkConf(false), master, env, null);
    }

    @Test
    void localMastersAreRetriedAsOnACluster() throws IOException {
        assertThat(configure("local[2]", Map.of()).get("spark.master")).isEqualTo("local[2,4]");
        assertThat(configure("local", Map.of()).get("spark.master")).isEqualTo("local[1,4]");
        assertThat(configure("local[*]", Map.of()).get("spark.master")).isEqualTo("local[*,4]");
        assertThat(configure("local[3,2]", Map.of()).get("spark.master")).isEqualTo("local[3,2]");
        assertThat(configure("spark://h:7077", Map.of()).get("spark.master")).isEqualTo("spark://h:7077");
        assertThat(configure("local[2]", Map.of()).get("spark.ui.enabled")).isEqualTo("false");
        SparkConf once = new SparkConf(false).set("spark.task.maxFailures", "1");
        assertThat(SparkClusterTiles.configure(once, "local[2]", Map.of(), null).get("spark.master"))
                .isEqualTo("local[2,1]");
        assertThatThrownBy(() -> configure("local[0]", Map.of())).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("--spark local[0]: expected at least one thread (local[K] with K at least 1, or local[*])");
    }

    @Test
    void theDriversOpenBlasCoreTypeGoesToTheExecutors() throws IOException {
        assertThat(configure("spark://h:7077", Map.of("OPENBLAS_CORETYPE", "Haswell"))
                .get("spark.executorEnv.OPENBLAS_CORETYPE")).isEqualTo("Haswell");
        assertThat(configure("spark://h:7077", Map.of()).contains("spark.executorEnv.OPENBLAS_CORETYPE")).isFalse();
        SparkConf own = new SparkConf(false).setExecutorEnv("OPENBLAS_CORETYPE", "Zen");
        assertThat(SparkClusterTiles.configure(own, "spark://h:7077", Map.of("OPENBLAS_CORETYPE", "Haswell"), null)
                .get("spark.executorEnv.OPENBLAS_CORETYPE")).as("the user's setting is kept").isEqualTo("Zen");
    }

    @Test
    void settingsAndMastersThatCannotWorkAreRefusedBeforeAnyContext() {
        assertThatThrownBy(() -> configure("", Map.of())).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("--spark: give a master URL");
        for (String[] bad : new String[][] {{"abc", "expected an integer, got 'abc'"},
            {"-1", "expected 0 (automatic) or a positive number, got -1"}}) {
            SparkConf conf = new SparkConf(false).set(SparkKernelJob.TILES_PER_TASK, bad[0]);
            assertThatThrownBy(() -> SparkClusterTiles.configure(conf, "local[2]", Map.of(), null))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(SparkKernelJob.TILES_PER_TASK + ": " + bad[1]);
        }
        SparkConf noJar = new SparkConf(false);
        assertThatThrownBy(() -> SparkClusterTiles.configure(noJar, "spark://h:7077", Map.of(),
                dir.resolve("missing.jar").toString())).isInstanceOf(IOException.class)
                .hasMessageContaining("the job jar");
        assertThatThrownBy(() -> SparkClusterTiles.reach("spark://h", "spark://h"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected spark://HOST:PORT");
    }

    /** Spark's refusals when the context starts, and an address nobody listens at: one message, no context left. */
    @Test
    void aConnectionThatFailsSaysWhyInOneMessageAndLeavesNoContext() {
        System.setProperty("spark.driver.host", "127.0.0.1");
        System.setProperty("spark.driver.bindAddress", "127.0.0.1");
        StringWriter log = new StringWriter();
        for (String[] c : new String[][] {{"foo", "--spark foo: Could not parse Master URL: 'foo' (expected local[K], "
            + "local[K,F] or spark://HOST:PORT)"}, {"spark://127.0.0.1:1", "--spark spark://127.0.0.1:1: cannot reach "
            + "the Spark master"}}) {
            SparkClusterTiles service = new SparkClusterTiles(Map.of());
            assertThatThrownBy(() -> service.connect(c[0], new PrintWriter(log)))
                    .isInstanceOfAny(IllegalArgumentException.class, IOException.class).hasMessageStartingWith(c[1]);
            assertThat(service.context()).isNull();
            assertThat(SparkContext$.MODULE$.getActive().isEmpty()).as("no context left running").isTrue();
        }
        // Spark's refusal of a driver heap too small (spark.testing.memory stands for the JVM's heap)
        System.setProperty("spark.testing.memory", Long.toString(100L << 20));
        SparkClusterTiles service = new SparkClusterTiles(Map.of());
        assertThatThrownBy(() -> service.connect("local[2]", new PrintWriter(log)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("--spark local[2]: System memory 104857600 must be at least")
                .hasMessageEndingWith("raise its heap with NTK4J_JAVA_OPTS=-Xmx1g (spark-submit: --driver-memory)");
        assertThat(SparkContext$.MODULE$.getActive().isEmpty()).isTrue();
        assertThat(log.toString()).isEmpty();
    }

    /**
     * local[2], which Spark alone would run with one attempt per task: the task whose first attempt writes a
     * wrong block and fails is retried, the file is the local run's; the report names the master, the tasks and
     * the executor's cores.
     */
    @Test
    void aLocalMastersFailedAttemptIsRetriedAndTheRunReported() throws IOException {
        System.setProperty(SparkKernelJob.FAIL_FIRST_ATTEMPT, "3");
        System.setProperty(SparkKernelJob.TILES_PER_TASK, "1");
        System.setProperty("spark.driver.host", "127.0.0.1");
        System.setProperty("spark.driver.bindAddress", "127.0.0.1");
        Model model = Zoo.parse(MODEL);
        try (Params params = model.init(7, new int[] {5}, DType.F64);
             Tensor x = Tensor.randomNormal(DType.F64, 11, 48, 5)) {
            TilePlan plan = TilePlanner.of(EmpiricalNtk.of(model, params), KernelKind.full()).tile(16)
                    .plan(48, 0, new int[] {5}, DType.F64);
            String fp = RunFingerprint.of(MODEL, params, x, null);
            Path local = dir.resolve("local.npy");
            try (TileStore store = TileStore.create(local, plan, fp)) {
                new TiledKernel(EmpiricalNtk.of(model, params), plan, x, null).run(Set.of(), store::write, null);
                store.finish();
            }
            Path out = dir.resolve("spark.npy");
            StringWriter log = new StringWriter();
            try (SparkClusterTiles service = new SparkClusterTiles(Map.of())) {
                service.connect("local[2]", new PrintWriter(log));
                assertThat(service.context().master()).isEqualTo("local[2,4]");
                try (TileStore store = TileStore.create(out, plan, fp)) {
                    service.compute("local[2]", MODEL, params, x, null, store, out, null, new PrintWriter(log));
                    store.finish();
                }
                assertThat(service.report()).containsEntry("spark_master", "local[2]")
                        .containsEntry("spark_tasks", plan.tileCount()).containsEntry("spark_tiles_per_task", 1)
                        .containsEntry("spark_executors", 1).containsKey("spark_executor_memory_bytes");
                assertThat((int[]) service.report().get("spark_executor_cores")).containsExactly(2);
                // a resumed run with one tile left to do: "1 tile in 1 task", as the local run's "1 tile computed"
                Path rest = dir.resolve("rest.npy");
                try (TileStore store = TileStore.create(rest, plan, fp)) {
                    new TiledKernel(EmpiricalNtk.of(model, params), plan, x, null)
                            .run(Set.of(plan.tileCount() - 1), store::write, null);
                    service.compute("local[2]", MODEL, params, x, null, store, rest, null, new PrintWriter(log));
                    store.finish();
                }
                assertThat(Files.readAllBytes(rest)).isEqualTo(Files.readAllBytes(local));
            }
            assertThat(SparkContext$.MODULE$.getActive().isEmpty()).as("closed").isTrue();
            assertThat(log.toString()).startsWith("spark local[2]: 6 tiles in 6 tasks of at most 1 tile on 1 "
                    + "executor (2 cores), ").contains("spark local[2]: 1 tile in 1 task of at most 1 tile on 1 "
                    + "executor (2 cores), ");
            assertThat(Files.readAllBytes(out)).isEqualTo(Files.readAllBytes(local));
        }
    }
}

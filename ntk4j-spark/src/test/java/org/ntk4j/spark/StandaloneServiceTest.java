package org.ntk4j.spark;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.spark.SparkConf;
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
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * {@code kernel --spark spark://...}'s service on a real standalone cluster whose one worker offers 8 cores (more
 * than this machine may have; Spark does not check): {@link SparkClusterTiles#connect} waits for the executor, so
 * the job's tasks are sized for its 8 cores (about three per core), not for Spark's default parallelism of 2
 * before any executor has registered; and the driver's {@code OPENBLAS_CORETYPE} reaches the executor's
 * environment. Every JVM started is stopped at the end.
 */
class StandaloneServiceTest {
    static final String MODEL = "fcn(depth=2,width=16,out=3)";

    @TempDir
    Path dir;

    @Test
    void tasksAreSizedForTheRegisteredCoresAndTheDriversCoreTypeReachesTheExecutors() throws Exception {
        try (LocalStandaloneCluster cluster = LocalStandaloneCluster.start(dir.resolve("cluster"), 1, 8, "600m")) {
            SparkConf settings = cluster.applyTo(new SparkConf(false)).set("spark.executor.memory", "512m")
                    .remove("spark.master");
            for (scala.Tuple2<String, String> kv : settings.getAll()) {
                System.setProperty(kv._1(), kv._2());
            }
            // Prescott: OpenBLAS's kernels that every x86-64 CPU runs
            StringWriter log = new StringWriter();
            try (SparkClusterTiles service = new SparkClusterTiles(Map.of("OPENBLAS_CORETYPE", "Prescott"));
                 Params params = Zoo.parse(MODEL).init(3, new int[] {4}, DType.F64);
                 Tensor x = Tensor.randomNormal(DType.F64, 5, 160, 4)) {
                service.connect(cluster.masterUrl(), new PrintWriter(log));
                Model model = Zoo.parse(MODEL);
                // 10 × 10 grid, 55 upper tiles in rows of 10, 9, ..., 1: 3 tiles per task for 8 cores (24 tasks
                // wanted) make 4 + 3 + 3 + 3 + 2 + 2 + 2 + 1 + 1 + 1 = 22 tasks; sized for 2 cores (6 wanted), 10
                TilePlan plan = TilePlanner.of(EmpiricalNtk.of(model, params), KernelKind.trace()).tile(16)
                        .plan(160, 0, new int[] {4}, DType.F64);
                assertThat(plan.tileCount()).isEqualTo(55);
                Path out = dir.resolve("k.npy");
                try (TileStore store = TileStore.create(out, plan, RunFingerprint.of(MODEL, params, x, null))) {
                    service.compute(cluster.masterUrl(), MODEL, params, x, null, store, out, null,
                            new PrintWriter(log));
                    store.finish();
                }
                assertThat(Files.exists(out)).isTrue();
                assertThat(service.report()).containsEntry("spark_tasks", 22).containsEntry("spark_tiles_per_task", 3)
                        .containsEntry("spark_executors", 1)
                        .containsEntry("spark_executor_memory_bytes", 512L << 20);
                assertThat((int[]) service.report().get("spark_executor_cores")).containsExactly(8);
                assertThat(log.toString()).contains(": 55 tiles in 22 tasks of at most 3 tiles on 1 executor (8 "
                        + "cores)");
                List<String> env = service.context().parallelize(List.of(1), 1)
                        .map(i -> String.valueOf(System.getenv("OPENBLAS_CORETYPE"))).collect();
                assertThat(env).containsExactly("Prescott");
            } finally {
                for (scala.Tuple2<String, String> kv : settings.getAll()) {
                    System.clearProperty(kv._1());
                }
            }
        }
    }
}

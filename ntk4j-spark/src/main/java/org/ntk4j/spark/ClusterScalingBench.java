package org.ntk4j.spark;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.ntk4j.cpu.Blas;
import org.ntk4j.io.DataSource;
import org.ntk4j.io.ExistingOutput;
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
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The scaling table of docs/performance.md: one kernel computed on a local standalone cluster (master and two workers
 * of one core each, separate JVMs on 127.0.0.1) by an application limited to one executor core
 * ({@code spark.cores.max=1}) and by one using both, alternately, plus the single-machine tiled run in this JVM
 * with one and with two threads for reference; every result is checked against the single-machine file, byte for
 * byte. Spark start-up (executors launching, JIT warm-up on a first run) is excluded: each application runs the
 * job once untimed, then {@code rounds} timed runs interleaved with the other application's.
 *
 * <pre>
 * java -cp "ntk4j-spark/target/classes:$(cat ntk4j-spark/target/launcher.classpath)" \
 *      org.ntk4j.spark.ClusterScalingBench 'fcn(depth=3,width=512,out=10)' synthetic:512,784 pntk 64 3
 * </pre>
 * Arguments: model, data, kind, tile, rounds (defaults as above). Prints a Markdown table.
 */
public final class ClusterScalingBench {
    private ClusterScalingBench() {
    }

    /**
     * Runs the benchmark and prints its table to standard output.
     *
     * @param args model, data, kind, tile and rounds, each optional (defaults as above)
     * @throws Exception if the model or data cannot be read, a cluster cannot be started or a run fails
     */
    public static void main(String[] args) throws Exception {

        String spec = args.length > 0 ? args[0] : "fcn(depth=3,width=512,out=10)";
        String data = args.length > 1 ? args[1] : "synthetic:512,784";
        String kindName = args.length > 2 ? args[2] : "pntk";
        int tile = args.length > 3 ? Integer.parseInt(args[3]) : 64;
        int rounds = args.length > 4 ? Integer.parseInt(args[4]) : 3;
        Path dir = Files.createTempDirectory("ntk4j-scaling");
        Model model = Zoo.parse(spec);
        KernelKind kind = KernelKind.parse(kindName, 0);
        try (Tensor x = DataSource.load(data, DType.F32, 0);
             Params params = model.init(0, Shapes.dropFirst(x.shape()), DType.F32)) {
            int[] perExample = Shapes.dropFirst(x.shape());
            EmpiricalNtk ntk = EmpiricalNtk.of(model, params).method(Method.AUTO);
            TilePlan plan = TilePlanner.of(ntk, kind).tile(tile).workers(2).plan(x.dim(0), 0, perExample,
                    DType.F32);
            String fingerprint = RunFingerprint.of(model.spec(), params, x, null);
            System.out.printf(Locale.ROOT, "%s, %s, kind %s: %s%n", model.spec(), Shapes.str(x.shape()), kind,
                    plan.describe());

            // the single-machine reference, with 1 and 2 threads (one BLAS thread per tile, as the CLI runs tiles)
            Path reference = dir.resolve("reference.npy");
            List<Double> local1 = new ArrayList<>();
            List<Double> local2 = new ArrayList<>();
            for (int r = 0; r <= rounds; r++) {
                for (int threads : new int[] {1, 2}) {
                    TilePlan p = TilePlanner.of(ntk, kind).tile(tile).workers(threads).plan(x.dim(0), 0, perExample,
                            DType.F32);
                    double s = localRun(ntk, p, x, reference, fingerprint);
                    if (r > 0) {
                        (threads == 1 ? local1 : local2).add(s);
                    }
                }
            }
            byte[] expected = Files.readAllBytes(reference);

            try (LocalStandaloneCluster cluster = LocalStandaloneCluster.start(dir.resolve("cluster"), 2, 1, "1200m")) {
                List<List<Double>> times = List.of(new ArrayList<>(), new ArrayList<>());
                // one application at a time holds the executors (another would wait for cores); each round starts
                // both anew, alternately, and times its second job (the first warms the executors up)
                for (int r = 0; r < rounds; r++) {
                    for (int cores = 1; cores <= 2; cores++) {
                        try (JavaSparkContext sc = app(cluster, cores)) {
                            Path out = dir.resolve("spark" + cores + ".npy");
                            SparkKernelJob.run(sc, model.spec(), params, x, null, plan, out,
                                    ExistingOutput.OVERWRITE, null);
                            long start = System.nanoTime();
                            SparkKernelJob.run(sc, model.spec(), params, x, null, plan, out,
                                    ExistingOutput.OVERWRITE, null);
                            times.get(cores - 1).add((System.nanoTime() - start) / 1e9);
                            if (!Arrays.equals(Files.readAllBytes(out), expected)) {
                                throw new IllegalStateException("the cluster's kernel differs from the "
                                        + "single-machine run");
                            }
                        }
                    }
                }
                double l1 = median(local1);
                double one = median(times.get(0));
                System.out.printf(Locale.ROOT, "%n| run | median s (of %d) | all runs, s | speed-up over 1 "
                        + "executor |%n|---|---:|---|---:|%n", rounds);
                row("single machine, 1 thread", local1, one);
                row("single machine, 2 threads", local2, one);
                row("Spark, 1 worker (1 executor core)", times.get(0), one);
                row("Spark, 2 workers (2 executor cores)", times.get(1), one);
                System.out.printf(Locale.ROOT, "%nSpark with 1 executor / single machine with 1 thread: %.2f%n",
                        one / l1);
            }
        }
    }

    private static JavaSparkContext app(LocalStandaloneCluster cluster, int cores) throws InterruptedException {
        SparkConf conf = cluster.applyTo(new SparkConf().setAppName("scaling-" + cores))
                .set("spark.cores.max", Integer.toString(cores))
                .set("spark.executor.cores", "1")
                .set("spark.executor.memory", "1g")
                // ntk4j's elementwise pool: one thread per executor core
                .set("spark.executor.extraJavaOptions", "-Dntk4j.threads=1");
        JavaSparkContext sc = new JavaSparkContext(conf);
        long deadline = System.currentTimeMillis() + 120_000;
        while (sc.sc().statusTracker().getExecutorInfos().length < cores + 1) {
            if (System.currentTimeMillis() > deadline) {
                sc.close();
                throw new IllegalStateException("executors did not register");
            }
            Thread.sleep(100);
        }
        return sc;
    }

    private static double localRun(EmpiricalNtk ntk, TilePlan plan, Tensor x, Path out, String fingerprint)
            throws IOException {
        int before = Blas.threads();
        Blas.setThreads(plan.blasThreads());
        try (TileStore store = TileStore.create(out, plan, fingerprint)) {
            long start = System.nanoTime();
            new TiledKernel(ntk, plan, x, null).run(Set.of(), store::write, null);
            store.finish();
            return (System.nanoTime() - start) / 1e9;
        } finally {
            Blas.setThreads(before);
        }
    }

    private static void row(String name, List<Double> times, double base) {
        StringBuilder all = new StringBuilder();
        for (double t : times) {
            all.append(all.length() == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.2f", t));
        }
        double m = median(times);
        System.out.printf(Locale.ROOT, "| %s | %.2f | %s | %.2f |%n", name, m, all, base / m);
    }

    private static double median(List<Double> v) {
        double[] a = v.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
    }
}

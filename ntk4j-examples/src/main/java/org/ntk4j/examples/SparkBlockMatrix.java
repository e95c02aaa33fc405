package org.ntk4j.examples;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.mllib.linalg.distributed.BlockMatrix;
import org.ntk4j.io.ExistingOutput;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.TilePlan;
import org.ntk4j.ntk.TilePlanner;
import org.ntk4j.spark.KernelBlockMatrix;
import org.ntk4j.spark.SparkKernelJob;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * A kernel computed on Spark and used as a distributed {@link BlockMatrix}: {@link SparkKernelJob} computes the
 * tiles of a plan as Spark tasks (each writes its tiles into the shared output file, retried tasks rewrite the
 * same bytes), and {@link KernelBlockMatrix} reads the file as Spark MLlib's block matrix for the linear algebra
 * that follows — here Θ·1 (the kernel's row sums) as a distributed product.
 *
 * <p>The example runs Spark in-process ({@code local[2]}: two executor threads). On a cluster, pass its master URL
 * and an output path all executors can reach (a shared file system); see docs/big-kernels.md, Apache Spark.
 *
 * <p>Run: {@code ntk4j-examples/run SparkBlockMatrix [N] [MASTER]} (defaults 96, {@code local[2]}).
 */
public final class SparkBlockMatrix {
    /** The command line (see {@link ExampleArgs}). */
    static final String USAGE = "SparkBlockMatrix [N] [MASTER]";

    private SparkBlockMatrix() {
    }

    /**
     * Computes the kernel on Spark, loads it as a block matrix, multiplies.
     *
     * @param args optional: number of examples, Spark master URL
     * @throws Exception only on a bug: bad arguments end in one line on stderr and exit code 2
     */
    public static void main(String[] args) throws Exception {
        ExampleArgs.main(USAGE, args, SparkBlockMatrix::run);
    }

    static void run(ExampleArgs args) throws IOException {
        int n = args.positive(0, 96);
        String master = master(args.text(1, "local[2]"));
        int[] example = {20};
        // Executors rebuild the model from its zoo spec: a Spark job takes a spec string, not a Model object.
        String spec = "fcn(depth=2,width=64,out=4,act=tanh)";
        Model model = Zoo.parse(spec);
        Path out = Files.createTempDirectory("ntk4j-spark").resolve("k.npy");

        SparkConf conf = new SparkConf().setMaster(master).setAppName("ntk4j example")
                .set("spark.ui.enabled", "false");   // no web UI for a short job
        try (JavaSparkContext sc = context(conf);
             Params params = model.init(5, example, DType.F64);
             Tensor x = Tensor.randomNormal(DType.F64, 8, n, example[0])) {
            EmpiricalNtk ntk = EmpiricalNtk.of(model, params);
            // Tiles of 32 examples: a 3 × 3 grid, upper triangle computed (6 tiles), lower one mirrored.
            TilePlan plan = TilePlanner.of(ntk, KernelKind.trace()).tile(32).plan(n, 0, example, DType.F64);
            System.out.println(plan.describe());
            SparkKernelJob.Summary summary = SparkKernelJob.run(sc, spec, params, x, null, plan, out,
                    ExistingOutput.REFUSE, null);
            System.out.printf(Locale.ROOT, "spark: %d tiles in %d tasks%n", summary.tilesComputed(),
                    summary.tasks());

            // The file as a BlockMatrix of 32 × 32 blocks, spread over the executors.
            BlockMatrix k = KernelBlockMatrix.of(sc, out, 32);
            k.validate();
            System.out.printf(Locale.ROOT, "BlockMatrix %d × %d in %d × %d blocks%n", k.numRows(), k.numCols(),
                    k.numRowBlocks(), k.numColBlocks());

            // Θ·1 as a distributed product with an N × 1 block matrix of ones, compared with the kernel in memory.
            BlockMatrix ones = KernelBlockMatrix.of(sc, onesFile(out.resolveSibling("ones.npy"), n), 32);
            double[] rowSums = k.multiply(ones).toLocalMatrix().toArray();
            try (Tensor local = ntk.kernel(KernelKind.trace(), x, null)) {
                double diff = 0;
                double scale = 0;
                for (int i = 0; i < n; i++) {
                    double expected = 0;
                    for (int j = 0; j < n; j++) {
                        expected += local.get(i, j);
                    }
                    diff = Math.max(diff, Math.abs(rowSums[i] - expected));
                    scale = Math.max(scale, Math.abs(expected));
                }
                System.out.printf(Locale.ROOT, "row sums Θ·1: %d values, max relative difference to local %.1e%n",
                        rowSums.length, diff / scale);
            }
        }
    }

    /**
     * The master URL, refused before Spark sees it when it has none of Spark's forms (Spark would log a stack
     * trace).
     */
    private static String master(String master) {
        if (!master.matches("local(\\[([1-9][0-9]*|\\*)(\\s*,\\s*[1-9][0-9]*)?])?|local-cluster\\[.+]|yarn"
                + "|[a-z][a-z0-9+.-]*://.+")) {
            throw new IllegalArgumentException("MASTER must be local, local[K], local[*], local[K,F], yarn or a URL "
                    + "such as spark://host:7077, got '" + master + "'");
        }
        return master;
    }

    /** The Spark context; a master URL that Spark refuses all the same is a bad argument too. */
    private static JavaSparkContext context(SparkConf conf) {
        try {
            return new JavaSparkContext(conf);
        } catch (Exception e) { // Scala throws SparkException undeclared: javac sees only RuntimeExceptions here
            if (e instanceof org.apache.spark.SparkException) {
                throw new IllegalArgumentException("MASTER '" + conf.get("spark.master") + "': " + e.getMessage(), e);
            }
            throw e;
        }
    }

    /** An [n, 1] file of ones (KernelBlockMatrix reads any rank-2 .npy). */
    private static Path onesFile(Path path, int n) throws IOException {
        try (Tensor ones = Tensor.full(DType.F64, 1.0, n, 1)) {
            org.ntk4j.io.Npy.write(path, ones);
        }
        return path;
    }
}

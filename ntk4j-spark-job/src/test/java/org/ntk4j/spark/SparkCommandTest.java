package org.ntk4j.spark;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.cli.Main;
import org.ntk4j.io.TileStore;

/**
 * {@code ntk4j kernel --out OUT --spark local[2]} through the CLI (found by ServiceLoader, as the launcher runs it):
 * the same file as the single-machine command, byte for byte, for every kind; a Spark run that fails half way
 * resumed by the single-machine command; an ONNX model (the executors rebuild it from its spec); usage errors.
 */
class SparkCommandTest {
    // 40 examples in tiles of 16: 6 upper tiles; float64
    static final String[] KERNEL = {"kernel", "--model", "fcn(depth=2,width=24,out=4)", "--data", "synthetic:40,6",
        "--dtype", "f64", "--tile", "16", "--quiet"};

    @TempDir
    Path dir;

    private static String[] run(int expectedCode, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(new PrintWriter(out), new PrintWriter(err), args);
        assertThat(code).as("exit code; stdout: %s; stderr: %s", out, err).isEqualTo(expectedCode);
        return new String[] {out.toString(), err.toString()};
    }

    private static String[] with(String[] a, String... more) {
        String[] r = java.util.Arrays.copyOf(a, a.length + more.length);
        System.arraycopy(more, 0, r, a.length, more.length);
        return r;
    }

    @Test
    void everyKindOnSparkIsTheSingleMachineFile() throws Exception {
        for (String kind : new String[] {"full", "trace", "diagonal", "pntk", "pntk-unscaled", "logit:2", "probes:3",
            "projected:32"}) {
            String name = kind.replace(':', '-');
            Path local = dir.resolve(name + "-local.npy");
            Path spark = dir.resolve(name + "-spark.npy");
            run(0, with(KERNEL, "--kind", kind, "--out", local.toString()));
            String[] r = run(0, with(KERNEL, "--kind", kind, "--out", spark.toString(), "--spark", "local[2]"));
            assertThat(r[0]).contains("spark local[2]: 6 tiles in").contains("wrote " + spark);
            assertThat(Files.readAllBytes(spark)).as(kind).isEqualTo(Files.readAllBytes(local));
        }
        // x2 given: 40 × 24 in tiles of 16, 4 tiles
        Path local = dir.resolve("x2-local.npy");
        Path spark = dir.resolve("x2-spark.npy");
        run(0, with(KERNEL, "--kind", "full", "--x2", "synthetic:24,6", "--out", local.toString()));
        run(0, with(KERNEL, "--kind", "full", "--x2", "synthetic:24,6", "--out", spark.toString(), "--spark=local[2]"));
        assertThat(Files.readAllBytes(spark)).isEqualTo(Files.readAllBytes(local));
    }

    @Test
    void aSparkRunThatFailsHalfWayIsResumedByTheSingleMachineCommand() throws Exception {
        Path whole = dir.resolve("whole.npy");
        run(0, with(KERNEL, "--kind", "diagonal", "--out", whole.toString()));
        Path out = dir.resolve("k.npy");
        // tile 4 fails on its first attempt and Spark may not retry it: the job fails, the manifest keeps what the
        // other tasks finished (spark.* system properties are Spark settings)
        System.setProperty(SparkKernelJob.FAIL_FIRST_ATTEMPT, "4");
        System.setProperty("spark.task.maxFailures", "1");
        System.setProperty(SparkKernelJob.TILES_PER_TASK, "1");
        String[] failed;
        try {
            failed = run(2, with(KERNEL, "--kind", "diagonal", "--out", out.toString(), "--spark", "local[2]"));
        } finally {
            System.clearProperty(SparkKernelJob.FAIL_FIRST_ATTEMPT);
            System.clearProperty("spark.task.maxFailures");
            System.clearProperty(SparkKernelJob.TILES_PER_TASK);
        }
        assertThat(failed[1]).startsWith("ntk4j: spark: the kernel job failed: injected failure");
        assertThat(TileStore.unfinished(out)).isTrue();
        assertThat(Files.exists(out)).isFalse();
        String[] resumed = run(0, with(KERNEL, "--kind", "diagonal", "--out", out.toString(), "--resume"));
        // how many the failed run finished depends on its tasks' timing: 1 tile computed, or several
        assertThat(resumed[0]).containsPattern("(1 tile|\\d tiles) computed \\(\\d already done\\)");
        assertThat(Files.readAllBytes(out)).isEqualTo(Files.readAllBytes(whole));
    }

    /**
     * local[2], which Spark alone runs with one attempt per task: the task whose first attempt writes a wrong block
     * and fails is retried (the CLI runs it as local[2,4]), and the file is the single-machine one.
     */
    @Test
    void aFailedFirstAttemptIsRetriedOnALocalMaster() throws Exception {
        Path local = dir.resolve("retry-local.npy");
        run(0, with(KERNEL, "--kind", "full", "--out", local.toString()));
        Path out = dir.resolve("retry.npy");
        System.setProperty(SparkKernelJob.FAIL_FIRST_ATTEMPT, "3");
        try {
            run(0, with(KERNEL, "--kind", "full", "--out", out.toString(), "--spark", "local[2]"));
        } finally {
            System.clearProperty(SparkKernelJob.FAIL_FIRST_ATTEMPT);
        }
        assertThat(Files.readAllBytes(out)).isEqualTo(Files.readAllBytes(local));
    }

    /**
     * A master or setting that cannot work, Spark's refusal of the driver's heap (spark.testing.memory stands for
     * -Xmx100m here) and a master nobody listens at: one line, exit code 2, no OUT.partial nor OUT.manifest, so the
     * next command is not refused.
     */
    @Test
    void aRunThatCannotStartSaysWhyInOneLineAndLeavesNoFiles() throws Exception {
        Path out = dir.resolve("k.npy");
        String[][] cases = {
            {"foo", null, null, "ntk4j: --spark foo: Could not parse Master URL: 'foo' (expected local[K], local[K,F] "
                + "or spark://HOST:PORT)"},
            {"local[2", null, null, "ntk4j: --spark local[2: Could not parse Master URL"},
            {"local[0]", null, null, "ntk4j: --spark local[0]: expected at least one thread"},
            {"", null, null, "ntk4j: --spark: give a master URL (local[k], spark://host:port), or run under "
                + "spark-submit, which sets one"},
            {"local[2]", SparkKernelJob.TILES_PER_TASK, "abc", "ntk4j: spark.ntk4j.tilesPerTask: expected an "
                + "integer, got 'abc'"},
            {"local[2]", SparkKernelJob.TILES_PER_TASK, "-1", "ntk4j: spark.ntk4j.tilesPerTask: expected 0 "
                + "(automatic) or a positive number, got -1"},
            {"local[2]", "spark.testing.memory", Long.toString(100L << 20), "ntk4j: --spark local[2]: System memory "
                + "104857600 must be at least"},
            {"spark://127.0.0.1:1", null, null, "ntk4j: --spark spark://127.0.0.1:1: cannot reach the Spark master"},
        };
        for (String[] c : cases) {
            if (c[1] != null) {
                System.setProperty(c[1], c[2]);
            }
            String[] r;
            try {
                r = run(2, with(KERNEL, "--kind", "trace", "--out", out.toString(), "--spark=" + c[0]));
            } finally {
                if (c[1] != null) {
                    System.clearProperty(c[1]);
                }
            }
            assertThat(r[1]).as(c[0]).startsWith(c[3]).hasLineCount(1);
            assertThat(Files.exists(TileStore.partialPath(out))).as(c[0]).isFalse();
            assertThat(Files.exists(TileStore.manifestPath(out))).as(c[0]).isFalse();
        }
        String[] r = run(0, with(KERNEL, "--kind", "trace", "--out", out.toString(), "--spark", "local[2]"));
        assertThat(r[0]).contains("wrote " + out);
    }

    /**
     * A kernel that is not finite in float32 (one example of 3e25) is refused on Spark as locally, and its files
     * are discarded, so the float64 run that the message suggests starts without --resume or --overwrite.
     */
    @Test
    void aKernelThatIsNotFiniteLeavesNoFilesAndTheFloat64RunStarts() throws Exception {
        Path data = dir.resolve("big.npy");
        try (org.ntk4j.tensor.Tensor x = org.ntk4j.tensor.Tensor.randomNormal(org.ntk4j.tensor.DType.F32, 1, 40, 6)) {
            for (int j = 0; j < 6; j++) {
                x.set(3e25, 5, j);
            }
            org.ntk4j.io.Npy.write(data, x);
        }
        String[] kernel = {"kernel", "--model", "fcn(depth=2,width=16,out=3)", "--data", data.toString(), "--kind",
            "full", "--tile", "16", "--quiet"};
        Path local = dir.resolve("nf-local.npy");
        String refusal = run(2, with(kernel, "--out", local.toString()))[1];
        assertThat(refusal).startsWith("ntk4j: kernel: the result holds");
        Path out = dir.resolve("nf.npy");
        String[] r = run(2, with(kernel, "--out", out.toString(), "--spark", "local[2]"));
        assertThat(r[1]).isEqualTo(refusal);
        assertThat(Files.exists(TileStore.partialPath(out))).isFalse();
        assertThat(Files.exists(TileStore.manifestPath(out))).isFalse();
        run(0, with(kernel, "--out", out.toString(), "--spark", "local[2]", "--dtype", "f64"));
        assertThat(Files.exists(out)).isTrue();
    }

    @Test
    void theReportDescribesTheClusterRun() throws Exception {
        Path out = dir.resolve("r.npy");
        Path report = dir.resolve("r.json");
        System.setProperty(SparkKernelJob.TILES_PER_TASK, "2");
        try {
            run(0, with(KERNEL, "--kind", "pntk", "--out", out.toString(), "--spark", "local[2]", "--report",
                    report.toString()));
        } finally {
            System.clearProperty(SparkKernelJob.TILES_PER_TASK);
        }
        // 6 upper tiles in rows of 3, 2, 1: tasks of at most 2 tiles
        assertThat(Files.readString(report)).contains("\"spark_master\": \"local[2]\",\n")
                .contains("\"spark_tasks\": 4,\n").contains("\"spark_tiles_per_task\": 2,\n")
                .contains("\"spark_executors\": 1,\n").contains("\"spark_executor_cores\": [2],\n")
                .containsPattern("\"spark_executor_memory_bytes\": \\d+\n");
    }

    @Test
    void anOnnxModelOnSparkIsTheSingleMachineFile() throws Exception {
        Path model = dir.resolve("mlp.onnx");
        Files.write(model, mlpOnnx());
        String[] kernel = {"kernel", "--model", model.toString(), "--freeze", "^b1$", "--data", "synthetic:40,4",
            "--dtype", "f64", "--tile", "16", "--kind", "pntk", "--quiet"};
        Path local = dir.resolve("onnx-local.npy");
        Path spark = dir.resolve("onnx-spark.npy");
        String[] l = run(0, with(kernel, "--out", local.toString()));
        assertThat(l[0]).contains("20 parameters");
        String[] r = run(0, with(kernel, "--out", spark.toString(), "--spark", "local[2]"));
        assertThat(r[0]).contains("spark local[2]: 6 tiles in");
        assertThat(Files.readAllBytes(spark)).isEqualTo(Files.readAllBytes(local));
    }

    /** y = tanh(x W1ᵀ + b1) W2ᵀ + b2 on x [batch, 4] (parameters W1 [3, 4], b1, W2 [2, 3], b2), as ONNX. */
    private static byte[] mlpOnnx() {
        org.ntk4j.onnx.proto.OnnxProtos.GraphProto g = org.ntk4j.onnx.proto.OnnxProtos.GraphProto.newBuilder()
                .setName("mlp").addInput(info("x", 4)).addOutput(info("y", 2))
                .addInitializer(floats("W1", new float[] {0.5f, -1, 0.25f, 1.5f, -0.75f, 0.5f, 1, -0.5f, 0.125f, 0.75f,
                    -1.25f, 0.5f}, 3, 4))
                .addInitializer(floats("b1", new float[] {0.1f, -0.2f, 0.3f}, 3))
                .addInitializer(floats("W2", new float[] {1, -0.5f, 0.75f, 0.25f, 1.25f, -1}, 2, 3))
                .addInitializer(floats("b2", new float[] {0.05f, -0.15f}, 2))
                .addNode(gemm("fc1", "x", "W1", "b1", "h"))
                .addNode(org.ntk4j.onnx.proto.OnnxProtos.NodeProto.newBuilder().setOpType("Tanh").setName("act")
                        .addInput("h").addOutput("a"))
                .addNode(gemm("fc2", "a", "W2", "b2", "y"))
                .build();
        return org.ntk4j.onnx.proto.OnnxProtos.ModelProto.newBuilder().setIrVersion(8).setProducerName("ntk4j-test")
                .addOpsetImport(org.ntk4j.onnx.proto.OnnxProtos.OperatorSetIdProto.newBuilder().setDomain("")
                        .setVersion(17)).setGraph(g).build().toByteArray();
    }

    private static org.ntk4j.onnx.proto.OnnxProtos.NodeProto gemm(String name, String x, String w, String b,
                                                                 String y) {
        return org.ntk4j.onnx.proto.OnnxProtos.NodeProto.newBuilder().setOpType("Gemm").setName(name).addInput(x)
                .addInput(w).addInput(b).addOutput(y).addAttribute(org.ntk4j.onnx.proto.OnnxProtos.AttributeProto
                        .newBuilder().setName("transB").setType(org.ntk4j.onnx.proto.OnnxProtos.AttributeProto
                                .AttributeType.INT).setI(1)).build();
    }

    private static org.ntk4j.onnx.proto.OnnxProtos.ValueInfoProto info(String name, int features) {
        org.ntk4j.onnx.proto.OnnxProtos.TensorShapeProto.Builder s = org.ntk4j.onnx.proto.OnnxProtos.TensorShapeProto
                .newBuilder()
                .addDim(org.ntk4j.onnx.proto.OnnxProtos.TensorShapeProto.Dimension.newBuilder().setDimParam("batch"))
                .addDim(org.ntk4j.onnx.proto.OnnxProtos.TensorShapeProto.Dimension.newBuilder().setDimValue(features));
        return org.ntk4j.onnx.proto.OnnxProtos.ValueInfoProto.newBuilder().setName(name).setType(
                org.ntk4j.onnx.proto.OnnxProtos.TypeProto.newBuilder().setTensorType(
                        org.ntk4j.onnx.proto.OnnxProtos.TypeProto.Tensor.newBuilder().setElemType(
                                org.ntk4j.onnx.proto.OnnxProtos.TensorProto.DataType.FLOAT_VALUE).setShape(s)))
                .build();
    }

    private static org.ntk4j.onnx.proto.OnnxProtos.TensorProto floats(String name, float[] v, long... dims) {
        org.ntk4j.onnx.proto.OnnxProtos.TensorProto.Builder t = org.ntk4j.onnx.proto.OnnxProtos.TensorProto
                .newBuilder().setName(name).setDataType(org.ntk4j.onnx.proto.OnnxProtos.TensorProto.DataType
                        .FLOAT_VALUE);
        for (long d : dims) {
            t.addDims(d);
        }
        for (float f : v) {
            t.addFloatData(f);
        }
        return t.build();
    }

    /**
     * {@code --memory} bounds {@code local[2]} as it bounds the local run, on the same tile grid: the tasks read the
     * driver's inputs, held once (before 2026-12-07 each task computed from its own copy beside them, here 3.1 MB of
     * x1 and the parameters over a 6 MiB budget: a peak of 8.7 MB against the local run's 5.6 MB).
     */
    @Test
    void localModeStaysWithinMemoryAsTheLocalRunDoes() throws Exception {
        // 1,000 examples of 784 float32 (3.1 MB) beside blocks of a small network: the inputs weigh
        String[] kernel = {"kernel", "--model", "fcn(depth=2,width=16,out=4)", "--data", "synthetic:1000,784",
            "--kind", "trace", "--memory", "6m", "--quiet"};
        long budget = 6L << 20;
        long inputs = 1000L * 784 * 4;
        Path local = dir.resolve("m-local.npy");
        Path spark = dir.resolve("m-spark.npy");
        Path localReport = dir.resolve("m-local.json");
        Path sparkReport = dir.resolve("m-spark.json");
        run(0, with(kernel, "--out", local.toString(), "--report", localReport.toString()));
        String[] r = run(0, with(kernel, "--out", spark.toString(), "--spark", "local[2]", "--report",
                sparkReport.toString()));
        assertThat(r[0]).contains("spark local[2]: 28 tiles in");
        assertThat(Files.readString(sparkReport)).contains("\"memory_budget_bytes\": " + budget + ",\n")
                .contains("\"tiles\": 28,\n");
        long localPeak = reported(localReport, "peak_bytes");
        long sparkPeak = reported(sparkReport, "peak_bytes");
        // the local run's plan: its predicted peak within the budget, the inputs most of it
        assertThat(localPeak).isGreaterThan(inputs).isLessThanOrEqualTo(budget);
        assertThat(sparkPeak).as("Spark local[2]'s peak (the local run's: %d)", localPeak)
                .isLessThanOrEqualTo(budget)
                // the inputs once: the local run's peak but for a few small tensors, not a second copy of x1
                .isLessThan(localPeak + inputs / 10);
        assertThat(Files.readAllBytes(spark)).isEqualTo(Files.readAllBytes(local));
    }

    /** A whole-number field of a --report file. */
    private static long reported(Path report, String field) throws java.io.IOException {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"" + field + "\": (\\d+)")
                .matcher(Files.readString(report));
        assertThat(m.find()).as("%s in %s", field, report).isTrue();
        return Long.parseLong(m.group(1));
    }

    @Test
    void sparkNeedsATiledRun() {
        String[] r = run(2, "kernel", "--data", "synthetic:8,6", "--model", "fcn(depth=1,width=8,out=2)", "--spark",
                "local[2]");
        assertThat(r[1]).isEqualTo("ntk4j: --spark: only for a tiled run, which writes its kernel with --out (and "
                + "--kind, not axes)\n");
    }
}

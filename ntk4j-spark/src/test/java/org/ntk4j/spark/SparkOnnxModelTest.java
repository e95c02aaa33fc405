package org.ntk4j.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.ExistingOutput;
import org.ntk4j.io.Npy;
import org.ntk4j.io.RunFingerprint;
import org.ntk4j.io.TileStore;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.Method;
import org.ntk4j.ntk.TilePlan;
import org.ntk4j.ntk.TilePlanner;
import org.ntk4j.ntk.TiledKernel;
import org.ntk4j.onnx.OnnxModel;
import org.ntk4j.onnx.OnnxSpec;
import org.ntk4j.onnx.proto.OnnxProtos.AttributeProto;
import org.ntk4j.onnx.proto.OnnxProtos.GraphProto;
import org.ntk4j.onnx.proto.OnnxProtos.ModelProto;
import org.ntk4j.onnx.proto.OnnxProtos.NodeProto;
import org.ntk4j.onnx.proto.OnnxProtos.OperatorSetIdProto;
import org.ntk4j.onnx.proto.OnnxProtos.TensorProto;
import org.ntk4j.onnx.proto.OnnxProtos.TensorShapeProto;
import org.ntk4j.onnx.proto.OnnxProtos.TypeProto;
import org.ntk4j.onnx.proto.OnnxProtos.ValueInfoProto;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * An imported ONNX model on Spark ({@code local[2]}): the executors rebuild it from its {@link OnnxSpec} (file and
 * {@code --freeze}, here), and the kernel is the single-machine run's, byte for byte.
 */
class SparkOnnxModelTest {
    @TempDir
    Path dir;

    @Test
    void executorsRebuildTheImportedModelFromItsSpec() throws Exception {
        Path file = mlp(dir.resolve("mlp.onnx"));
        OnnxSpec spec = new OnnxSpec(file, null, null, "^b1$", null);
        assertThat(OnnxSpec.parse(spec.toString())).isEqualTo(spec);
        OnnxModel onnx = spec.load();
        Model model = spec.model(onnx);
        assertThat(model.spec()).isEqualTo(spec.toString());
        assertThat(onnx.parameterNames()).containsExactly("W1", "W2", "b2");
        try (Params params = onnx.params(DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 3, 40, 4);
             JavaSparkContext sc = new JavaSparkContext(SparkTesting.localConf(2, 1)
                     .setAppName("SparkOnnxModelTest"))) {
            EmpiricalNtk ntk = EmpiricalNtk.of(model, params).method(Method.AUTO);
            TilePlan plan = TilePlanner.of(ntk, KernelKind.parse("pntk", 0)).tile(16).plan(40, 0, new int[] {4},
                    DType.F64);
            assertThat(plan.tileCount()).isGreaterThan(1);
            Path local = dir.resolve("local.npy");
            try (TileStore store = TileStore.create(local, plan, RunFingerprint.of(model.spec(), params, x, null))) {
                new TiledKernel(ntk, plan, x, null).run(Set.of(), store::write, null);
                store.finish();
            }
            Path spark = dir.resolve("spark.npy");
            SparkKernelJob.Summary s = SparkKernelJob.run(sc, model.spec(), params, x, null, plan, spark,
                    ExistingOutput.REFUSE, null);
            assertThat(s.tilesComputed()).isEqualTo(plan.tileCount());
            assertThat(Files.readAllBytes(spark)).isEqualTo(Files.readAllBytes(local));
            // and b1 really is a constant there: the kernel differs from that of every weight
            try (Params all = OnnxModel.load(file).params(DType.F64);
                 Tensor k = Npy.readTensor(spark);
                 Tensor other = EmpiricalNtk.of(OnnxModel.load(file).model(), all)
                         .kernel(KernelKind.parse("pntk", 0), x, null)) {
                assertThat(Math.abs(k.getFlat(0) - other.getFlat(0))).isGreaterThan(1e-6);
            }
        }
    }

    /**
     * An ONNX model of token ids on Spark: its data is checked on the driver as the CLI checks it
     * ({@code OnnxModel.checkIds}), an id out of the table's range refused in one line naming x1 or x2 before any
     * file is written (the executors' model gave NaN, and the run failed later as a kernel that is not finite); good
     * ids give the closed-form kernel, negative ones counting from the table's end.
     */
    @Test
    void tokenIdsAreCheckedBeforeTheJobAndGiveTheClosedFormKernel() throws Exception {
        Path file = embedding(dir.resolve("emb.onnx"));
        OnnxSpec spec = new OnnxSpec(file, null, null, null, null);
        OnnxModel onnx = spec.load();
        Model model = spec.model(onnx);
        assertThat(onnx.idInput()).isTrue();
        double[] ids = {0, 4, -1, 2, 2, -5, 3, 1, 0, 4, -3, 2};
        try (Params params = onnx.params(DType.F64); Tensor x = Tensor.of(ids, 4, 3);
             Tensor bad = Tensor.of(new double[] {0, 1, 2, 3, 7, 1}, 2, 3);
             JavaSparkContext sc = new JavaSparkContext(SparkTesting.localConf(2, 1)
                     .setAppName("SparkOnnxModelTest"))) {
            EmpiricalNtk ntk = EmpiricalNtk.of(model, params);
            KernelKind trace = KernelKind.parse("trace", 0);
            TilePlan badPlan = TilePlanner.of(ntk, trace).tile(2).plan(2, 0, new int[] {3}, DType.F64);
            Path refused = dir.resolve("refused.npy");
            assertThatThrownBy(() -> SparkKernelJob.run(sc, model.spec(), params, bad, null, badPlan, refused,
                    ExistingOutput.REFUSE,
                    null)).isInstanceOf(IllegalArgumentException.class).hasMessage("x1: input 'ids' of emb.onnx holds "
                    + "token ids (int64); example 1 has id 7, out of range for the 5 rows of 'table' (ids -5 to 4)");
            TilePlan crossPlan = TilePlanner.of(ntk, trace).tile(2).plan(4, 2, new int[] {3}, DType.F64);
            assertThatThrownBy(() -> SparkKernelJob.run(sc, model.spec(), params, x, bad, crossPlan, refused,
                    ExistingOutput.REFUSE,
                    null)).hasMessageStartingWith("x2: input 'ids' of emb.onnx holds token ids (int64); example 1 has "
                    + "id 7");
            assertThat(refused).doesNotExist();
            assertThat(TileStore.partialPath(refused)).doesNotExist();
            assertThat(TileStore.manifestPath(refused)).doesNotExist();

            TilePlan plan = TilePlanner.of(ntk, trace).tile(2).plan(4, 0, new int[] {3}, DType.F64);
            Path out = dir.resolve("ids.npy");
            SparkKernelJob.run(sc, model.spec(), params, x, null, plan, out, ExistingOutput.REFUSE, null);
            try (Tensor k = Npy.readTensor(out)) {
                for (int a = 0; a < 4; a++) {
                    for (int b = 0; b < 4; b++) {
                        // y = (table[id_1], table[id_2], table[id_3]): the trace over its 6 outputs counts the
                        // positions whose ids agree, K(a, b) = (1/3) Σ_j [id_aj = id_bj] (ids modulo the 5 rows)
                        int same = 0;
                        for (int j = 0; j < 3; j++) {
                            same += Math.floorMod((int) ids[3 * a + j], 5) == Math.floorMod((int) ids[3 * b + j], 5)
                                    ? 1 : 0;
                        }
                        assertThat(k.get(a, b)).as("K[%d, %d]", a, b).isCloseTo(same / 3.0,
                                org.assertj.core.data.Offset.offset(1e-12));
                    }
                }
            }
        }
    }

    /**
     * Executors rebuild an ONNX model from its file: a file replaced during the run (or another file at that path on
     * an executor's machine) with another graph and the same weights fails the tasks that read it, so the job stops
     * with their error and records none of their tiles; before 2026-12-07 they computed the other graph's kernel,
     * recorded as the run's. With the file as it was, the run resumes to the single-machine file, byte for byte.
     */
    @Test
    void aTaskThatReadsAnotherModelFileFailsTheJobAndRecordsNothing() throws Exception {
        Path file = mlp(dir.resolve("m.onnx"));
        OnnxSpec spec = new OnnxSpec(file, null, null, null, null);
        OnnxModel onnx = spec.load();
        Model model = spec.model(onnx);
        try (Params params = onnx.params(DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 5, 160, 4);
             JavaSparkContext sc = new JavaSparkContext(SparkTesting.localConf(1, 1)
                     .set(SparkKernelJob.TILES_PER_TASK, "1").setAppName("SparkOnnxModelTest"))) {
            EmpiricalNtk ntk = EmpiricalNtk.of(model, params);
            TilePlan plan = TilePlanner.of(ntk, KernelKind.trace()).tile(16).plan(160, 0, new int[] {4}, DType.F64);
            assertThat(plan.tileCount()).isEqualTo(55);
            Path local = dir.resolve("local.npy");
            try (TileStore store = TileStore.create(local, plan, RunFingerprint.of(model.spec(), params, x, null))) {
                new TiledKernel(ntk, plan, x, null).run(Set.of(), store::write, null);
                store.finish();
            }
            Path out = dir.resolve("spark.npy");
            // one task at a time, a tile each: after the first task's tile is recorded, the file becomes the same
            // weights under Sigmoid, which the later tasks read
            assertThatThrownBy(() -> SparkKernelJob.run(sc, model.spec(), params, x, null, plan, out,
                    ExistingOutput.REFUSE,
                    (tiles, finished, total) -> {
                        if (finished == 1) {
                            try {
                                mlp(file, "Sigmoid");
                            } catch (Exception e) {
                                throw new IllegalStateException(e);
                            }
                        }
                    })).isInstanceOf(java.io.IOException.class)
                    .hasMessageStartingWith("spark: the kernel job failed: ")
                    .hasMessageContaining("the model " + model.spec() + " that this executor reads is not the "
                            + "driver's: its file's bytes differ");
            assertThat(out).doesNotExist();
            int recorded = TileStore.recordedTileCount(out);
            assertThat(recorded).isPositive().isLessThan(plan.tileCount());

            mlp(file);
            SparkKernelJob.Summary s = SparkKernelJob.run(sc, model.spec(), params, x, null, plan, out,
                    ExistingOutput.RESUME, null);
            assertThat(s.tilesComputed()).isEqualTo(plan.tileCount() - recorded);
            assertThat(Files.readAllBytes(out)).isEqualTo(Files.readAllBytes(local));
        }
    }

    /** y = Flatten(Gather(table [5, 2], ids)) on int64 ids [batch, 3]: an embedding of each of 3 tokens. */
    private static Path embedding(Path file) throws Exception {
        float[] table = new float[10];
        for (int i = 0; i < table.length; i++) {
            table[i] = (float) Math.sin(1.0 + i);
        }
        TensorShapeProto.Builder ids = TensorShapeProto.newBuilder()
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimParam("batch"))
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(3));
        GraphProto g = GraphProto.newBuilder().setName("embedding")
                .addInput(ValueInfoProto.newBuilder().setName("ids").setType(TypeProto.newBuilder().setTensorType(
                        TypeProto.Tensor.newBuilder().setElemType(TensorProto.DataType.INT64_VALUE).setShape(ids))))
                .addOutput(info("y", 6))
                .addInitializer(floats("table", table, 5, 2))
                .addNode(NodeProto.newBuilder().setOpType("Gather").setName("gather").addInput("table")
                        .addInput("ids").addOutput("g"))
                .addNode(NodeProto.newBuilder().setOpType("Flatten").setName("flatten").addInput("g").addOutput("y")
                        .addAttribute(AttributeProto.newBuilder().setName("axis")
                                .setType(AttributeProto.AttributeType.INT).setI(1)))
                .build();
        ModelProto m = ModelProto.newBuilder().setIrVersion(8).setProducerName("ntk4j-test")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17)).setGraph(g).build();
        Files.write(file, m.toByteArray());
        return file;
    }

    /** y = tanh(x W1ᵀ + b1) W2ᵀ + b2 on x [batch, 4]. */
    private static Path mlp(Path file) throws Exception {
        return mlp(file, "Tanh");
    }

    /** {@link #mlp(Path)} with another element-wise activation (an ONNX op), the same weights. */
    private static Path mlp(Path file, String activation) throws Exception {
        GraphProto g = GraphProto.newBuilder().setName("mlp")
                .addInput(info("x", 4)).addOutput(info("y", 2))
                .addInitializer(floats("W1", new float[] {0.5f, -1, 0.25f, 1.5f, -0.75f, 0.5f, 1, -0.5f, 0.125f, 0.75f,
                    -1.25f, 0.5f}, 3, 4))
                .addInitializer(floats("b1", new float[] {0.1f, -0.2f, 0.3f}, 3))
                .addInitializer(floats("W2", new float[] {1, -0.5f, 0.75f, 0.25f, 1.25f, -1}, 2, 3))
                .addInitializer(floats("b2", new float[] {0.05f, -0.15f}, 2))
                .addNode(gemm("fc1", "x", "W1", "b1", "h"))
                .addNode(NodeProto.newBuilder().setOpType(activation).setName("act").addInput("h").addOutput("a"))
                .addNode(gemm("fc2", "a", "W2", "b2", "y"))
                .build();
        ModelProto m = ModelProto.newBuilder().setIrVersion(8).setProducerName("ntk4j-test")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17)).setGraph(g).build();
        Files.write(file, m.toByteArray());
        return file;
    }

    private static NodeProto gemm(String name, String x, String w, String b, String y) {
        return NodeProto.newBuilder().setOpType("Gemm").setName(name).addInput(x).addInput(w).addInput(b).addOutput(y)
                .addAttribute(AttributeProto.newBuilder().setName("transB").setType(AttributeProto.AttributeType.INT)
                        .setI(1)).build();
    }

    private static ValueInfoProto info(String name, int features) {
        TensorShapeProto.Builder s = TensorShapeProto.newBuilder()
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimParam("batch"))
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(features));
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(TensorProto.DataType.FLOAT_VALUE).setShape(s))).build();
    }

    private static TensorProto floats(String name, float[] v, long... dims) {
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.FLOAT_VALUE);
        for (long d : dims) {
            t.addDims(d);
        }
        for (float f : v) {
            t.addFloatData(f);
        }
        return t.build();
    }
}

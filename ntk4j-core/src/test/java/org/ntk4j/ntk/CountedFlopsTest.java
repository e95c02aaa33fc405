package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.ntk4j.graph.FlopCount;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Predicted equals counted: for every zoo model, kernel kind and exact method, the FLOPs the executor counts
 * while it runs (each graph equation by its primitive's rule, each contraction step by its own rule) equal the
 * cost model's prediction exactly, for x2 given and x2 = x1.
 */
class CountedFlopsTest {
    record Case(String spec, int[] in, String kind, Method method) {
        @Override
        public String toString() {
            return spec + " " + kind + " " + method.shortName();
        }
    }

    /** The zoo models, each with one example's shape. */
    private static final String[][] MODELS = {
        {"fcn(depth=2,width=12,out=3)", "5"},
        {"cnn(depth=1,channels=3,out=3)", "4,4"},
        {"resnet(blocks=1,channels=2,out=3)", "4,4"},
        {"transformer(layers=1,dim=4,heads=2,out=3)", "3,4"},
        // the ImageNet ResNets at width 2 (strided and 1×1 convolutions, batch norm, max pool, bottlenecks)
        {"resnet18(out=3,width=2)", "16,16,3"},
        {"resnet34(out=3,width=2)", "16,16,3"},
        {"resnet50(out=3,width=2)", "16,16,3"},
        {"wide_resnet50_2(out=3,width=2)", "16,16,3"}};

    static Stream<Case> cases() {
        List<Case> r = new ArrayList<>();
        String[][] models = MODELS;
        for (String[] m : models) {
            int[] in = java.util.Arrays.stream(m[1].split(",")).mapToInt(Integer::parseInt).toArray();
            for (String kind : new String[] {"full", "trace", "diagonal", "pntk", "logit:1", "probes:2"}) {
                for (Method method : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
                    Method.STRUCTURED_DERIVATIVES}) {
                    r.add(new Case(m[0], in, kind, method));
                }
            }
        }
        return r.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void countedFlopsEqualPredictedFlops(Case c) {
        Model m = Zoo.parse(c.spec());
        Params p = m.init(3, c.in(), DType.F64);
        Tensor x1 = Tensor.randomNormal(DType.F64, 1, org.ntk4j.tensor.Shapes.prepend(3, c.in()));
        Tensor x2 = Tensor.randomNormal(DType.F64, 2, org.ntk4j.tensor.Shapes.prepend(2, c.in()));
        EmpiricalNtk e = EmpiricalNtk.of(m, p).forKind(KernelKind.parse(c.kind(), 5), c.in()).method(c.method());
        for (Tensor second : new Tensor[] {x2, null}) {
            double predicted = e.costModel(3, second == null ? 0 : 2, c.in(), DType.F64).estimate(c.method()).flops();
            long before = FlopCount.total();
            try (Tensor k = e.ntk(x1, second)) {
                long counted = FlopCount.total() - before;
                assertThat(counted).isPositive();
                assertThat(counted).as("x2 %s: counted vs predicted", second == null ? "= x1" : "given")
                        .isEqualTo(Math.round(predicted));
            }
        }
    }

    /**
     * The kernels of each example with itself (batch axis diagonal, with and without the outputs traced, and the
     * batch axis traced), for every zoo model and exact method, x2 of the same N given and x2 = x1: counted equals
     * predicted, structured derivatives' blocks batched over the examples included.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void perExampleKernelsCountWhatTheyPredict(String spec, int[] in) {
        Model m = Zoo.parse(spec);
        Params p = m.init(3, in, DType.F64);
        Tensor x1 = Tensor.randomNormal(DType.F64, 1, org.ntk4j.tensor.Shapes.prepend(3, in));
        Tensor x2 = Tensor.randomNormal(DType.F64, 2, org.ntk4j.tensor.Shapes.prepend(3, in));
        int[][][] axes = {{{}, {0}}, {{-1}, {0}}, {{0}, {}}, {{0, -1}, {}}}; // {trace, diagonal}
        for (int[][] a : axes) {
            for (Method method : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
                Method.STRUCTURED_DERIVATIVES}) {
                EmpiricalNtk e = EmpiricalNtk.of(m, p).traceAxes(a[0]).diagonalAxes(a[1]).method(method);
                for (Tensor second : new Tensor[] {x2, null}) {
                    double predicted = e.costModel(3, second == null ? 0 : 3, in, DType.F64).estimate(method).flops();
                    long before = FlopCount.total();
                    try (Tensor k = e.ntk(x1, second)) {
                        assertThat(FlopCount.total() - before).as("%s trace %s diagonal %s %s x2 %s", spec,
                                java.util.Arrays.toString(a[0]), java.util.Arrays.toString(a[1]), method.shortName(),
                                second == null ? "= x1" : "given").isEqualTo(Math.round(predicted));
                    }
                }
            }
        }
        x1.close();
        x2.close();
        p.close();
    }

    static Stream<org.junit.jupiter.params.provider.Arguments> models() {
        return java.util.Arrays.stream(MODELS).map(m -> org.junit.jupiter.params.provider.Arguments.of(m[0],
                java.util.Arrays.stream(m[1].split(",")).mapToInt(Integer::parseInt).toArray()));
    }

    /**
     * The tiled paths (Jacobians over tiles of examples or chunks of fan-in rows, basis vectors in tiles) and the
     * exact batch path of a model that mixes examples count what they predict too.
     */
    @org.junit.jupiter.api.Test
    void tiledAndBatchPathsCountWhatTheyPredict() {
        Model fcn = Zoo.parse("fcn(depth=2,width=12,out=3)");
        Model cnn = Zoo.parse("cnn(depth=1,channels=3,out=3)");
        Model mixing = new Model(org.ntk4j.nn.Layers.serial(org.ntk4j.nn.Layers.dense(4),
                org.ntk4j.nn.Layers.batchNorm(), org.ntk4j.nn.Layers.dense(3)), "dense, batch_norm, dense");
        Object[][] runs = {{fcn, new int[] {5}, 600L}, {cnn, new int[] {4, 4}, 900L},
            {mixing, new int[] {3}, 1L << 30}};
        for (Object[] run : runs) {
            Model m = (Model) run[0];
            int[] in = (int[]) run[1];
            Params p = m.init(3, in, DType.F64);
            Tensor x1 = Tensor.randomNormal(DType.F64, 1, org.ntk4j.tensor.Shapes.prepend(5, in));
            Tensor x2 = Tensor.randomNormal(DType.F64, 2, org.ntk4j.tensor.Shapes.prepend(4, in));
            Tensor x2Same = Tensor.randomNormal(DType.F64, 3, org.ntk4j.tensor.Shapes.prepend(5, in));
            for (Method method : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
                Method.STRUCTURED_DERIVATIVES}) {
                // {trace, diagonal}: the full and traced kernels, and the per-example one (tiles paired with
                // themselves only, of unequal sizes)
                for (int[][] axes : new int[][][] {{{}, {}}, {{-1}, {}}, {{}, {0}}}) {
                    int[] trace = axes[0];
                    EmpiricalNtk e = EmpiricalNtk.of(m, p).traceAxes(trace).diagonalAxes(axes[1]).method(method)
                            .tileBytes((Long) run[2]);
                    Tensor other = axes[1].length == 0 ? x2 : x2Same;
                    for (Tensor second : new Tensor[] {other, null}) {
                        CostModel.Estimate est = e.costModel(5, second == null ? 0 : other.dim(0), in, DType.F64)
                                .estimate(method);
                        if (m != mixing && method != Method.STRUCTURED_DERIVATIVES) {
                            assertThat(est.note()).as("the tiled path runs").contains("tiles");
                        }
                        double predicted = est.flops();
                        long before = FlopCount.total();
                        try (Tensor k = e.ntk(x1, second)) {
                            assertThat(FlopCount.total() - before).as("%s %s %s %s", m.spec(), method,
                                    java.util.Arrays.toString(trace), java.util.Arrays.toString(axes[1]))
                                    .isEqualTo(Math.round(predicted));
                        }
                    }
                }
            }
        }
    }
}

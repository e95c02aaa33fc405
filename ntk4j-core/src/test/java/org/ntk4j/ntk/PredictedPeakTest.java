package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The memory model against the bytes actually held: for every zoo model, four kernel kinds (full, trace, diagonal,
 * pntk) and the three exact methods, x2 given and x2 = x1, the predicted peak is within 10% of the peak of live
 * off-heap tensor bytes the library tracked while computing the kernel ({@link Tensor#peakBytes()}, every tensor
 * counted from allocation to close), plus the parameters and inputs the caller holds. The ImageNet ResNets run at
 * width 4 (channels 4 to 32, 128 after a bottleneck's expansion) on 3 and 2 inputs of 32×32×3, their structure
 * (strided and 1×1 convolutions, inference-mode batch norm, max pool, bottlenecks) unchanged, so that the test stays
 * fast.
 */
class PredictedPeakTest {
    /** spec, one example's shape, n1, n2. */
    private static final String[][] MODELS = {
        {"fcn(depth=2,width=256,out=10)", "128", "12", "8"},
        {"cnn(depth=2,channels=8,out=10)", "8,8", "12", "8"},
        {"resnet(blocks=1,channels=4,out=10)", "8,8", "12", "8"},
        {"transformer(layers=1,dim=16,heads=2,out=10)", "6,8", "12", "8"},
        {"resnet18(out=10,width=4)", "32,32,3", "3", "2"},
        {"resnet34(out=10,width=4)", "32,32,3", "3", "2"},
        {"resnet50(out=10,width=4)", "32,32,3", "3", "2"},
        {"wide_resnet50_2(out=10,width=4)", "32,32,3", "3", "2"}};

    @Test
    void predictedPeakWithinTenPercentOfMeasured() {
        String[][] models = MODELS;
        for (String[] ms : models) {
            Model m = Zoo.parse(ms[0]);
            int[] in = java.util.Arrays.stream(ms[1].split(",")).mapToInt(Integer::parseInt).toArray();
            int n1 = Integer.parseInt(ms[2]);
            int n2 = Integer.parseInt(ms[3]);
            Params p = m.init(1, in, DType.F64);
            Tensor x1 = Tensor.randomNormal(DType.F64, 2, org.ntk4j.tensor.Shapes.prepend(n1, in));
            Tensor x2 = Tensor.randomNormal(DType.F64, 3, org.ntk4j.tensor.Shapes.prepend(n2, in));
            for (String kind : new String[] {"full", "trace", "diagonal", "pntk"}) {
                for (Method method : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
                    Method.STRUCTURED_DERIVATIVES}) {

                    for (Tensor second : new Tensor[] {x2, null}) {
                        EmpiricalNtk ntk = EmpiricalNtk.of(m, p).forKind(KernelKind.parse(kind, 1), in).method(method);
                        long predicted = ntk.costModel(n1, second == null ? 0 : n2, in, DType.F64).estimate(method)
                                .peakBytes();
                        long measured = measuredPeakBytes(ntk, p, x1, second);
                        assertThat((double) predicted / measured).as("%s %s %s %s: predicted %d, measured %d",
                                ms[0], kind, method.shortName(), second == null ? "x2 = x1" : "x2", predicted,
                                measured).isBetween(0.9, 1.1);
                    }
                }
            }
            x1.close();
            x2.close();
            p.close();
        }
    }

    /**
     * The same for the kernels of each example with itself (the batch axis diagonal, alone or with the outputs
     * traced, and the batch axis traced), n1 examples on both sides: x2 of n1 examples given, and x2 = x1.
     */
    @Test
    void perExampleKernelsPredictedPeakWithinTenPercentOfMeasured() {
        int[][][] axes = {{{}, {0}}, {{-1}, {0}}, {{0}, {}}, {{0, -1}, {}}}; // {trace, diagonal}
        org.assertj.core.api.SoftAssertions soft = new org.assertj.core.api.SoftAssertions();
        for (String[] ms : MODELS) {
            Model m = Zoo.parse(ms[0]);
            int[] in = java.util.Arrays.stream(ms[1].split(",")).mapToInt(Integer::parseInt).toArray();
            int n = Integer.parseInt(ms[2]);
            Params p = m.init(1, in, DType.F64);
            try (Tensor x1 = Tensor.randomNormal(DType.F64, 2, org.ntk4j.tensor.Shapes.prepend(n, in));
                 Tensor x2 = Tensor.randomNormal(DType.F64, 3, org.ntk4j.tensor.Shapes.prepend(n, in))) {
                for (int[][] a : axes) {
                    for (Method method : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
                        Method.STRUCTURED_DERIVATIVES}) {
                        for (Tensor second : new Tensor[] {x2, null}) {
                            EmpiricalNtk ntk = EmpiricalNtk.of(m, p).traceAxes(a[0]).diagonalAxes(a[1])
                                    .method(method);
                            long predicted = ntk.costModel(n, second == null ? 0 : n, in, DType.F64)
                                    .estimate(method).peakBytes();
                            long measured = measuredPeakBytes(ntk, p, x1, second);
                            soft.assertThat((double) predicted / measured).as("%s trace %s diagonal %s %s %s: "
                                            + "predicted %d, measured %d", ms[0], java.util.Arrays.toString(a[0]),
                                    java.util.Arrays.toString(a[1]), method.shortName(),
                                    second == null ? "x2 = x1" : "x2", predicted, measured).isBetween(0.9, 1.1);
                        }
                    }
                }
            }
            p.close();
        }
        soft.assertAll();
    }

    /**
     * The peak of live off-heap tensor bytes while {@code ntk} computes the kernel of x1 (and x2), after a first
     * call that builds the plan, plus the float64 parameters and inputs the caller holds.
     */
    static long measuredPeakBytes(EmpiricalNtk ntk, Params p, Tensor x1, Tensor x2) {
        ntk.ntk(x1, x2).close(); // the plan is built (its graphs' constants allocated) once
        long base = Tensor.liveBytes();
        Tensor.resetPeakBytes();
        try (Tensor k = ntk.ntk(x1, x2)) {
            return Tensor.peakBytes() - base + 8L * p.count() + 8L * (x1.size() + (x2 == null ? 0 : x2.size()));
        }
    }
}

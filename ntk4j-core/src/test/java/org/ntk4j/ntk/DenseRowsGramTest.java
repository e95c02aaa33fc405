package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.ntk4j.graph.FlopCount;
import org.ntk4j.graph.Var;
import org.ntk4j.nn.Layer;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.ParamScope;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Structured derivatives' dense fallback (a parameter reaching its consumer through a primitive without a structure
 * rule, here {@code exp}) for x2 = x1: the per-example rows of one pass with themselves are contracted as a symmetric
 * product where DotGeneralKernel makes one — (N·O)(N·O + 1)·P FLOPs for the full kernel, not a GEMM's 2·(N·O)²·P
 * (before 2026-12-07, late night, always the GEMM: SD priced and ran a weight-normalised network at about twice
 * Jacobian contraction's FLOPs) — with the kernel unchanged (1e-12 of JC's, float64), exactly symmetric, and the
 * FLOPs the run counts equal to the cost model's, for every kind of kernel axes.
 */
class DenseRowsGramTest {
    /** N·O = 64: the least order DotGeneralKernel computes as a symmetric product. */
    private static final int N = 8;
    private static final int O = 8;
    private static final int FAN_IN = 32;
    /** The parameter's size: 256, the least contraction DotGeneralKernel computes as a symmetric product. */
    private static final int P = FAN_IN * O;

    /** y = x · exp(θ), θ [32, 8]: no rule for exp, so SD contracts θ's per-example rows. */
    private static Model model() {
        return model(FAN_IN, O);
    }

    /** y = x · exp(θ), θ [fanIn, outputs]. */
    private static Model model(int fanIn, int outputs) {
        return new Model(new Layer() {
            @Override
            public String kind() {
                return "exp-weight";
            }

            @Override
            public List<int[]> outputShapes(List<int[]> in) {
                return List.of(new int[] {outputs});
            }

            @Override
            public void declare(ParamScope scope, List<int[]> in) {
                scope.declare("theta", new int[] {fanIn, outputs}, 0.3, 0);
            }

            @Override
            public List<Var> apply(ParamScope scope, List<Var> in) {
                return List.of(in.get(0).matmul(scope.get("theta").exp()));
            }
        }, "exp-weight");
    }

    @Test
    void denseRowsOfOnePassWithItselfAreASymmetricProductCountedAsPredicted() {
        Model m = model();
        int[] in = {FAN_IN};
        Params p = m.init(4, in, DType.F64);
        Tensor x = Tensor.randomNormal(DType.F64, 9, N, FAN_IN);
        EmpiricalNtk base = EmpiricalNtk.of(m, p);
        CostModel fullCost = base.traceAxes().costModel(N, 0, in, DType.F64);
        assertThat(fullCost.estimate(Method.STRUCTURED_DERIVATIVES).note())
                .startsWith("0 of 1 parameters structured, 1 through per-example rows");
        EmpiricalNtk[] kinds = {base.traceAxes(), base.traceAxes(-1), base.traceAxes().diagonalAxes(-1),
            base.traceAxes().diagonalAxes(0), base.diagonalAxes(0)};
        String[] names = {"full", "trace", "diagonal", "each example with itself", "each example's trace"};
        // the full kernel's Gram of order N·O = 64 over P = 256 is a symmetric product; the others are GEMMs (the
        // trace's Gram of order N = 8 and the per-example blocks of order O = 8 are below the least order, 64, of a
        // symmetric product; the diagonal's is batched over its outputs, written permuted)
        double[] contraction = {(double) N * O * (N * O + 1) * P, 2.0 * N * N * O * P, 2.0 * O * N * N * P,
            2.0 * N * O * O * P, 2.0 * N * O * P};
        for (int i = 0; i < kinds.length; i++) {
            EmpiricalNtk e = kinds[i];
            CostModel cost = e.costModel(N, 0, in, DType.F64);
            double predicted = cost.estimate(Method.STRUCTURED_DERIVATIVES).flops();
            assertThat(cost.estimate(Method.STRUCTURED_DERIVATIVES).contractionFlops()).as(names[i])
                    .isEqualTo(contraction[i]);
            long before = FlopCount.total();
            try (Tensor sd = e.method(Method.STRUCTURED_DERIVATIVES).ntk(x, null)) {
                long counted = FlopCount.total() - before;
                assertThat(counted).as("%s: counted vs predicted", names[i]).isEqualTo(Math.round(predicted));
                try (Tensor jc = e.method(Method.JACOBIAN_CONTRACTION).ntk(x, null)) {
                    assertThat(EmpiricalNtkTest.relativeError(sd, jc)).as("%s: sd vs jc", names[i])
                            .isLessThan(1e-12);
                }
            }
        }
        // the full kernel of x with itself is exactly symmetric: Θ[a, o1, b, o2] = Θ[b, o2, a, o1]
        try (Tensor k = base.traceAxes().method(Method.STRUCTURED_DERIVATIVES).ntk(x, null)) {
            for (int a = 0; a < N; a++) {
                for (int b = 0; b < N; b++) {
                    for (int o1 = 0; o1 < O; o1++) {
                        for (int o2 = 0; o2 < O; o2++) {
                            assertThat(k.get(a, b, o1, o2)).isEqualTo(k.get(b, a, o2, o1));
                        }
                    }
                }
            }
        }
    }

    /**
     * The shapes the first test leaves as GEMMs, here large enough for a symmetric product: the trace's Gram of
     * order N = 64 over O·P (two contracted axes), and the per-example blocks of order O = 64 batched over the
     * examples; the cost model's contraction FLOPs m(m+1)·k are those counted, the kernel JC's to 1e-12 and
     * exactly symmetric. Float32 (the symmetric product accumulates as the GEMM does) is float64's to 1e-5, exactly
     * symmetric too; a tiled run (whose diagonal tiles are rows with themselves) is the untiled kernel's to 1e-12.
     */
    @Test
    void symmetricProductsOfTheTraceAndPerExampleBlocksAndInFloat32AndTiles() {
        // trace: N = 64 examples, O = 4, P = 64 · 4 = 256
        Model wide = model(64, 4);
        int[] in = {64};
        Params p = wide.init(4, in, DType.F64);
        Tensor x = Tensor.randomNormal(DType.F64, 9, 64, 64);
        EmpiricalNtk trace = EmpiricalNtk.of(wide, p).traceAxes(-1);
        checkCounted("trace", trace, x, in, 64.0 * 65 * 4 * 256);
        // each example with itself: N = 4, O = 64, P = 4 · 64 = 256
        Model tall = model(4, 64);
        int[] in4 = {4};
        Params q = tall.init(4, in4, DType.F64);
        Tensor x4 = Tensor.randomNormal(DType.F64, 9, 4, 4);
        EmpiricalNtk perExample = EmpiricalNtk.of(tall, q).traceAxes().diagonalAxes(0);
        checkCounted("each example with itself", perExample, x4, in4, 4.0 * 64 * 65 * 256);
        try (Tensor k = perExample.method(Method.STRUCTURED_DERIVATIVES).ntk(x4, null)) {
            for (int a = 0; a < 4; a++) {
                for (int o1 = 0; o1 < 64; o1++) {
                    for (int o2 = 0; o2 < 64; o2++) {
                        assertThat(k.get(a, o1, o2)).isEqualTo(k.get(a, o2, o1));
                    }
                }
            }
        }
        // float32, the full kernel of the first test (a symmetric product of order 64 over 256)
        Model m = model();
        int[] inFull = {FAN_IN};
        // the same float32 numbers on both sides: float64 parameters and inputs are the float32 ones widened
        Params p32 = m.init(4, inFull, DType.F32);
        java.util.Map<String, Tensor> widened = new java.util.LinkedHashMap<>();
        p32.tensors().forEach((name, t) -> widened.put(name, t.to(DType.F64)));
        Params p64 = new Params(widened);
        try (Tensor x32 = Tensor.randomNormal(DType.F32, 9, N, FAN_IN);
             Tensor x64 = x32.to(DType.F64);
             Tensor k32 = EmpiricalNtk.of(m, p32).traceAxes().method(Method.STRUCTURED_DERIVATIVES).ntk(x32, null);
             Tensor k64 = EmpiricalNtk.of(m, p64).traceAxes().method(Method.STRUCTURED_DERIVATIVES).ntk(x64, null);
             Tensor k32as64 = k32.to(DType.F64)) {
            assertThat(k32.dtype()).isEqualTo(DType.F32);
            assertThat(EmpiricalNtkTest.relativeError(k32as64, k64)).isLessThan(1e-5);
            for (int a = 0; a < N; a++) {
                for (int b = 0; b < N; b++) {
                    for (int o1 = 0; o1 < O; o1++) {
                        for (int o2 = 0; o2 < O; o2++) {
                            assertThat(k32.get(a, b, o1, o2)).isEqualTo(k32.get(b, a, o2, o1));
                        }
                    }
                }
            }
        }
    }

    /**
     * A tiled full kernel of 16 examples in tiles of 8: each diagonal tile's rows with themselves are a symmetric
     * product of order 8 · O = 64, the off-diagonal tiles GEMMs; the whole is the untiled kernel's to 1e-12.
     */
    @Test
    void tiledDiagonalTilesAreTheUntiledKernels() {
        Model m = model();
        int[] in = {FAN_IN};
        try (Params p = m.init(4, in, DType.F64);
             Tensor x = Tensor.randomNormal(DType.F64, 3, 16, FAN_IN)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p).method(Method.STRUCTURED_DERIVATIVES).memoryBudget(1L << 34);
            KernelKind kind = KernelKind.parse("full", O);
            TilePlan plan = TilePlanner.of(ntk, kind).tile(8).budget(1L << 30).plan(16, 0, in, DType.F64);
            assertThat(plan.method()).isEqualTo(Method.STRUCTURED_DERIVATIVES);
            try (Tensor whole = ntk.kernel(kind, x, null);
                 Tensor tiled = new TiledKernel(ntk, plan, x, null).computeAll()) {
                assertThat(tiled.shape()).containsExactly(whole.shape());
                assertThat(TiledKernelTest.maxRelativeDifference(tiled, whole)).isLessThan(1e-12);
            }
        }
    }

    private static void checkCounted(String name, EmpiricalNtk e, Tensor x, int[] in, double contraction) {
        CostModel cost = e.costModel(x.dim(0), 0, in, DType.F64);
        assertThat(cost.estimate(Method.STRUCTURED_DERIVATIVES).contractionFlops()).as(name).isEqualTo(contraction);
        double predicted = cost.estimate(Method.STRUCTURED_DERIVATIVES).flops();
        long before = FlopCount.total();
        try (Tensor sd = e.method(Method.STRUCTURED_DERIVATIVES).ntk(x, null)) {
            assertThat(FlopCount.total() - before).as("%s: counted vs predicted", name)
                    .isEqualTo(Math.round(predicted));
            try (Tensor jc = e.method(Method.JACOBIAN_CONTRACTION).ntk(x, null)) {
                assertThat(EmpiricalNtkTest.relativeError(sd, jc)).as("%s: sd vs jc", name).isLessThan(1e-12);
            }
        }
    }
}

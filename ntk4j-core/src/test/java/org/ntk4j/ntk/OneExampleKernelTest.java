package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.ntk4j.graph.Var;
import org.ntk4j.nn.Layer;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.ParamScope;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Kernels with a side of one example, for a model whose trace moves the examples off axis 0 at N = 1 only (as an
 * ONNX import keeps PyTorch's transpose of a size-1 batch axis): y[n, t] = x[n, t]·W + b on x [N, 4, 8], computed
 * at N = 1 as transpose(dense(transpose(x, 0 ↔ 1)), 0 ↔ 1). The model treats examples independently and is
 * tileable (its trace at N = 2 carries them first), but a one-example side's own trace does not: its per-example
 * pass would read axis 0 (the 4 positions) as the examples. Every exact method must equal the closed form
 * (1e-12, float64).
 */
class OneExampleKernelTest {
    private static final int T = 4;
    private static final int F = 8;

    /** The dense map over positions, its examples' axis transposed to axis 1 when the batch has one example. */
    static Model transposingAtOneExample() {
        return transposingAtOneExample(false);
    }

    /** {@link #transposingAtOneExample()}, its outputs flattened to [N, T·F] when {@code flat}. */
    static Model transposingAtOneExample(boolean flat) {
        return transposingAtOneExample(flat, F);
    }

    /**
     * {@link #transposingAtOneExample(boolean)} on examples [T, features]: the dense map's weight is
     * [features, features].
     */
    static Model transposingAtOneExample(boolean flat, int features) {
        return new Model(new Layer() {
            @Override
            public String kind() {
                return "transposing";
            }

            @Override
            public List<int[]> outputShapes(List<int[]> in) {
                return List.of(flat ? new int[] {T * features} : in.get(0));
            }

            @Override
            public void declare(ParamScope scope, List<int[]> in) {
                scope.declare("w", new int[] {features, features}, 1.0, 0);
                scope.declare("b", new int[] {features}, 1.0, 0);
            }

            @Override
            public List<Var> apply(ParamScope scope, List<Var> in) {
                Var x = in.get(0);
                Var y = x.dim(0) != 1 ? x.matmul(scope.get("w")).add(scope.get("b"))
                        : x.transpose(1, 0, 2).matmul(scope.get("w")).add(scope.get("b")).transpose(1, 0, 2);
                return List.of(flat ? y.reshape(x.dim(0), T * features) : y);
            }
        }, "transposing");
    }

    /**
     * The closed form of the full kernel [N1, N2, T, T, F, F]: ∂y[n, t, f]/∂W[c, g] = x[n, t, c]·δ(f, g) and
     * ∂y[n, t, f]/∂b[g] = δ(f, g), so Θ[a, b, t, u, f, g] = δ(f, g)·(x1[a, t]·x2[b, u] + 1).
     */
    static Tensor closedForm(Tensor x1, Tensor x2) {
        int n1 = x1.dim(0);
        int n2 = x2.dim(0);
        Tensor k = Tensor.zeros(DType.F64, n1, n2, T, T, F, F);
        for (int a = 0; a < n1; a++) {
            for (int b = 0; b < n2; b++) {
                for (int t = 0; t < T; t++) {
                    for (int u = 0; u < T; u++) {
                        double dot = 1;
                        for (int c = 0; c < F; c++) {
                            dot += x1.get(a, t, c) * x2.get(b, u, c);
                        }
                        for (int f = 0; f < F; f++) {
                            k.set(dot, a, b, t, u, f, f);
                        }
                    }
                }
            }
        }
        return k;
    }

    private static final Method[] EXACT = {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
        Method.STRUCTURED_DERIVATIVES};

    private static void checkEveryMethod(int n1, int n2, boolean same) {
        Model m = transposingAtOneExample();
        int[] in = {T, F};
        Params p = m.init(3, in, DType.F64);
        try (Tensor x1 = Tensor.randomNormal(DType.F64, 1 + n1, n1, T, F);
             Tensor x2 = Tensor.randomNormal(DType.F64, 11 + n2, n2, T, F);
             Tensor oracle = closedForm(x1, same ? x1 : x2)) {
            for (Method me : EXACT) {
                try (Tensor k = EmpiricalNtk.of(m, p).traceAxes().method(me).ntk(x1, same ? null : x2)) {
                    assertThat(EmpiricalNtkTest.relativeError(k, oracle)).as("%s, N1 = %d, N2 = %d", me, n1,
                            same ? n1 : n2).isLessThan(1e-12);
                }
            }
        }
    }

    @Test
    void oneExampleAgainstThreeByEveryExactMethod() {
        checkEveryMethod(1, 3, false);
        checkEveryMethod(3, 1, false);
    }

    @Test
    void oneExampleWithItselfAndWithAnotherByEveryExactMethod() {
        checkEveryMethod(1, 0, true);
        checkEveryMethod(1, 1, false);
    }

    /**
     * A tile of one example prepared beside tiles of two: its blocks equal the closed form by Jacobian
     * contraction and structured derivatives (the one-example tile holds no per-example pass).
     */
    @Test
    void preparedTileOfOneExampleGivesItsBlocks() {
        Model m = transposingAtOneExample();
        int[] in = {T, F};
        Params p = m.init(3, in, DType.F64);
        try (Tensor x1 = Tensor.randomNormal(DType.F64, 5, 1, T, F);
             Tensor x2 = Tensor.randomNormal(DType.F64, 6, 2, T, F);
             Tensor k12 = closedForm(x1, x2);
             Tensor k11 = closedForm(x1, x1)) {
            for (Method me : new Method[] {Method.JACOBIAN_CONTRACTION, Method.STRUCTURED_DERIVATIVES}) {
                EmpiricalNtk tiles = EmpiricalNtk.of(m, p).traceAxes().method(me);
                try (PreparedTile a = tiles.prepare(x1);
                     PreparedTile b = tiles.prepare(x2);
                     Tensor ab = tiles.kernel(a, b);
                     Tensor aa = tiles.kernel(a, a)) {
                    assertThat(EmpiricalNtkTest.relativeError(ab, k12)).as("%s, block 1 × 2", me).isLessThan(1e-12);
                    assertThat(EmpiricalNtkTest.relativeError(aa, k11)).as("%s, block 1 × 1", me).isLessThan(1e-12);
                }
            }
        }
    }

    /**
     * projected:K with x2 of one example: its sketch is that example's row of the sketch of a batch (the count
     * sketch hashes parameters, not examples), so the kernel is the column of the batch's own kernel.
     */
    @Test
    void projectedKernelAgainstOneExampleIsTheBatchKernelsColumn() {
        Model m = transposingAtOneExample(true);
        int[] in = {T, F};
        Params p = m.init(3, in, DType.F64);
        KernelKind kind = KernelKind.parse("projected:16", 7);
        try (Tensor x = Tensor.randomNormal(DType.F64, 9, 3, T, F);
             Tensor x0 = org.ntk4j.cpu.Layout.sliceAxis(x, 0, 0, 1);
             Tensor all = EmpiricalNtk.of(m, p).kernel(kind, x, null);
             Tensor column = EmpiricalNtk.of(m, p).kernel(kind, x, x0)) {
            assertThat(column.shape()).containsExactly(3, 1);
            for (int a = 0; a < 3; a++) {
                assertThat(column.get(a, 0)).as("row %d", a).isCloseTo(all.get(a, 0),
                        org.assertj.core.data.Offset.offset(1e-12 * Math.abs(all.get(0, 0))));
            }
        }
    }

    /** Over N1, N2 in {1, 2, 3}: every exact method equals the closed form. */
    @Property(tries = 12)
    void everyBatchSizeGivesTheClosedForm(@ForAll @IntRange(min = 1, max = 3) int n1,
                                          @ForAll @IntRange(min = 1, max = 3) int n2) {
        checkEveryMethod(n1, n2, false);
    }
}

package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Tiled kernels at the edges of the grid equal the untiled kernel to rounding (float64): one example on a side,
 * a tile larger than N, N2 larger than N1, and the method chosen by AUTO (the planner's choice must be the method
 * that computes the tiles). The reference is the kernel in memory by the plan's method (itself checked against
 * finite differences and closed forms elsewhere); float64, to TiledKernelTest's rounding bound.
 */
class TiledEdgeShapesTest {
    static Stream<Object[]> cases() {
        Stream.Builder<Object[]> b = Stream.builder();
        int[][] sizes = {{1, 0}, {1, 1}, {1, 19}, {19, 1}, {5, 40}, {40, 0}};
        for (String kind : new String[] {"full", "trace", "diagonal", "pntk"}) {
            for (Method m : new Method[] {Method.AUTO, Method.STRUCTURED_DERIVATIVES, Method.JACOBIAN_CONTRACTION,
                Method.NTK_VECTOR_PRODUCTS}) {
                for (int[] s : sizes) {
                    b.add(new Object[] {kind, m, s[0], s[1]});
                }
            }
        }
        return b.build();
    }

    @ParameterizedTest(name = "{0} {1} n1={2} n2={3}")
    @MethodSource("cases")
    void edgeGridsEqualTheUntiledKernel(String kindText, Method method, int n1, int n2) {
        Model m = Zoo.parse("fcn(depth=2,width=12,out=3)");
        int[] in = {7};
        KernelKind kind = KernelKind.parse(kindText, 3);
        int blas = org.ntk4j.cpu.Blas.threads();
        org.ntk4j.cpu.Blas.setThreads(1);
        try (Params p = m.init(5, in, DType.F64);
             Tensor x1 = Tensor.randomNormal(DType.F64, 1, Shapes.prepend(n1, in));
             Tensor x2 = n2 == 0 ? null : Tensor.randomNormal(DType.F64, 2, Shapes.prepend(n2, in))) {
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p).method(method).memoryBudget(1L << 34);
            for (int t : new int[] {0, 16, 64}) {
                TilePlan plan = TilePlanner.of(ntk, kind).tile(t).budget(1L << 30).plan(n1, n2, in, DType.F64);
                EmpiricalNtk same = EmpiricalNtk.of(m, p).method(plan.method()).memoryBudget(1L << 34);
                try (Tensor whole = same.kernel(kind, x1, x2);
                     Tensor tiled = new TiledKernel(ntk, plan, x1, x2).computeAll()) {
                    assertThat(tiled.shape()).containsExactly(whole.shape());
                    assertThat(TiledKernelTest.maxRelativeDifference(tiled, whole))
                            .as("tile " + t + " " + plan.describe()).isLessThan(TiledKernelTest.TILED_TOLERANCE);
                }
            }
        } finally {
            org.ntk4j.cpu.Blas.setThreads(blas);
        }
    }
}

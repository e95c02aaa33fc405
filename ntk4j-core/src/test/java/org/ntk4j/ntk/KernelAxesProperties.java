package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.ntk4j.nn.Layers;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The output layout and the trace (mean) and diagonal semantics, for every method, over random axis
 * combinations of a network with spatial outputs f(x) [N, H, W, C], with x2 = null and with an explicit x2.
 * The reference applies the semantics by plain loops to the full kernel.
 */
class KernelAxesProperties {
    static final Model MODEL = new Model(Layers.serial(
            Layers.conv(2, new int[] {2, 2}, new int[] {1, 1}, "SAME"), Layers.tanh(),
            Layers.conv(2, new int[] {1, 2}, new int[] {1, 1}, "SAME")), "conv-spatial");
    static final int[] IN = {2, 3, 1};
    static final Params PARAMS = MODEL.init(5, IN, DType.F64);
    static final Tensor X1 = Tensor.randomNormal(DType.F64, 1, 2, 2, 3, 1);
    static final Tensor X2 = Tensor.randomNormal(DType.F64, 2, 3, 2, 3, 1);

    /** Disjoint (trace, diagonal) subsets of the 4 output axes, possibly written with negative numbers. */
    @Provide
    Arbitrary<int[][]> axes() {
        return Arbitraries.integers().between(0, 3).array(int[].class).ofMaxSize(4).uniqueElements()
                .flatMap(trace -> Arbitraries.integers().between(0, 3).filter(a -> !Shapes.contains(trace, a))
                        .array(int[].class).ofMaxSize(4).uniqueElements()
                        .flatMap(diag -> Combinators.combine(Arbitraries.of(true, false), Arbitraries.of(true, false))
                                .as((negT, negD) -> new int[][] {negT ? negate(trace) : trace,
                                    negD ? negate(diag) : diag})));
    }

    private static int[] negate(int[] a) {
        int[] r = a.clone();
        for (int i = 0; i < r.length; i++) {
            r[i] -= 4;
        }
        return r;
    }

    @Property(tries = 25, seed = "20261123")
    void everyMethodFollowsTheAxisSemantics(@ForAll("axes") int[][] axes, @ForAll boolean explicitX2) {
        int[] trace = axes[0];
        int[] diag = axes[1];
        // a traced or diagonal example axis pairs example n of x1 with example n of x2: equal batches only
        boolean batchPaired = Shapes.contains(diag, 0) || Shapes.contains(diag, -4) || Shapes.contains(trace, 0)
                || Shapes.contains(trace, -4);
        Tensor x2 = explicitX2 && !batchPaired ? X2 : null;
        Tensor full = EmpiricalNtk.of(MODEL, PARAMS).traceAxes().method(Method.JACOBIAN_CONTRACTION).ntk(X1, x2);
        Tensor expected = reference(full, X1.dim(0), x2 == null ? X1.dim(0) : x2.dim(0), trace, diag);
        for (Method m : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
            Method.STRUCTURED_DERIVATIVES, Method.AUTO}) {
            Tensor k = EmpiricalNtk.of(MODEL, PARAMS).traceAxes(trace).diagonalAxes(diag).method(m).ntk(X1, x2);
            assertThat(k.shape()).as("%s shape", m).isEqualTo(expected.shape());
            for (int i = 0; i < k.size(); i++) {
                assertThat(k.getFlat(i)).as("%s entry %d", m, i).isCloseTo(expected.getFlat(i),
                        org.assertj.core.data.Offset.offset(1e-10 * (1 + Math.abs(expected.getFlat(i)))));
            }
        }
    }

    /**
     * From the full kernel in zip layout [N1, N2, H, H, W, W, C, C]: for each output index tuple, sum (then
     * average) over the traced axes' common index, with diagonal axes' two indices equal.
     */
    static Tensor reference(Tensor full, int n1, int n2, int[] traceIn, int[] diagIn) {
        KernelAxes ka = new KernelAxes(4, traceIn, diagIn);
        int[] f1 = {n1, 2, 3, 2};
        int[] f2 = {n2, 2, 3, 2};
        int[] outShape = ka.outputShape(f1, f2);
        Tensor out = Tensor.zeros(DType.F64, outShape);
        int[] fullStrides = Shapes.strides(full.shape());
        int[] idx1 = new int[4];
        int[] idx2 = new int[4];
        int total1 = Shapes.size(f1);
        int total2 = Shapes.size(f2);
        for (int a = 0; a < total1; a++) {
            unravel(a, f1, idx1);
            for (int b = 0; b < total2; b++) {
                unravel(b, f2, idx2);
                boolean keep = true;
                for (int ax = 0; ax < 4; ax++) {
                    if ((ka.isTraced(ax) || ka.isDiagonal(ax)) && idx1[ax] != idx2[ax]) {
                        keep = false;
                    }
                }
                if (!keep) {
                    continue;
                }
                int flat = 0;
                for (int ax = 0; ax < 4; ax++) {
                    flat += idx1[ax] * fullStrides[2 * ax] + idx2[ax] * fullStrides[2 * ax + 1];
                }
                List<Integer> o = new ArrayList<>();
                for (int ax = 0; ax < 4; ax++) {
                    if (ka.isTraced(ax)) {
                        continue;
                    }
                    o.add(idx1[ax]);
                    if (!ka.isDiagonal(ax)) {
                        o.add(idx2[ax]);
                    }
                }
                int[] oi = o.stream().mapToInt(Integer::intValue).toArray();
                double v = out.rank() == 0 ? out.getFlat(0) : out.get(oi);
                if (out.rank() == 0) {
                    out.setFlat(0, v + full.getFlat(flat));
                } else {
                    out.set(v + full.getFlat(flat), oi);
                }
            }
        }
        double size = ka.traceSize(f1);
        for (int i = 0; i < out.size(); i++) {
            out.setFlat(i, out.getFlat(i) / size);
        }
        return out;
    }

    private static void unravel(int flat, int[] shape, int[] idx) {
        for (int ax = shape.length - 1; ax >= 0; ax--) {
            idx[ax] = flat % shape[ax];
            flat /= shape[ax];
        }
    }
}

package org.ntk4j.ntk;

import org.ntk4j.cpu.DotGeneralKernel;
import org.ntk4j.graph.FlopCount;
import org.ntk4j.tensor.Tensor;

/**
 * A dot_general run by the NTK methods outside a graph, its FLOPs counted by dot_general's own rule
 * (2 · output size · contracted size) into {@link FlopCount}, as the cost model predicts them; a Gram of one
 * tensor with itself by {@link DotGeneralKernel#gramFlops} (about half, when computed as a symmetric product).
 */
final class CountedDot {
    private CountedDot() {
    }

    /** {@link DotGeneralKernel#dot}, counted. */
    static Tensor dot(Tensor a, Tensor b, int[] ca, int[] cb, int[] ba, int[] bb) {
        Tensor t = DotGeneralKernel.dot(a, b, ca, cb, ba, bb);
        FlopCount.add(2.0 * t.size() * contracted(a, ca));
        return t;
    }

    /** {@link DotGeneralKernel#dot} with an output permutation, counted. */
    static Tensor dot(Tensor a, Tensor b, int[] ca, int[] cb, int[] ba, int[] bb, int[] perm) {
        Tensor t = DotGeneralKernel.dot(a, b, ca, cb, ba, bb, perm);
        FlopCount.add(2.0 * t.size() * contracted(a, ca));
        return t;
    }

    /** {@link DotGeneralKernel#gram}, counted by {@link DotGeneralKernel#gramFlops}. */
    static Tensor gram(Tensor x, int[] contract, int[] batch) {
        Tensor t = DotGeneralKernel.gram(x, contract, batch);
        FlopCount.add(DotGeneralKernel.gramFlops(x.shape(), contract, batch));
        return t;
    }

    private static double contracted(Tensor a, int[] axes) {
        double k = 1;
        for (int ax : axes) {
            k *= a.dim(ax);
        }
        return k;
    }
}

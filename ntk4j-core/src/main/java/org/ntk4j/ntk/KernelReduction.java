package org.ntk4j.ntk;

import org.ntk4j.cpu.Layout;
import org.ntk4j.cpu.Reduce;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Takes a full kernel laid out as [f(x1) axes..., f(x2) axes...] to the layout of {@link KernelAxes}: the
 * diagonal of each traced or diagonal axis pair is read with one strided copy (stride s_a1 + s_a2), traced
 * axes are summed and divided by their size.
 */
final class KernelReduction {
    private KernelReduction() {
    }

    static Tensor reduce(Tensor full, KernelAxes axes, int[] f1, int[] f2) {
        int r = axes.rank();
        int[] s = Shapes.strides(full.shape());
        int[] outShape = axes.outputShape(f1, f2);
        int[] trace = axes.trace();
        int nOut = outShape.length;
        int[] viewShape = new int[nOut + trace.length];
        int[] viewStrides = new int[nOut + trace.length];
        int k = 0;
        for (int a = 0; a < r; a++) {
            if (axes.isTraced(a)) {
                continue;
            }
            if (axes.isDiagonal(a)) {
                viewShape[k] = f1[a];
                viewStrides[k++] = s[a] + s[r + a];
            } else {
                viewShape[k] = f1[a];
                viewStrides[k++] = s[a];
                viewShape[k] = f2[a];
                viewStrides[k++] = s[r + a];
            }
        }
        for (int a : trace) {
            viewShape[k] = f1[a];
            viewStrides[k++] = s[a] + s[r + a];
        }
        Tensor view = Tensor.empty(full.dtype(), viewShape);
        Layout.stridedCopy(full, 0, viewStrides, view, 0, Shapes.strides(viewShape), viewShape);
        if (trace.length == 0) {
            return view;
        }
        int[] summed = new int[trace.length];
        for (int i = 0; i < trace.length; i++) {
            summed[i] = nOut + i;
        }
        Tensor sum = Reduce.reduce(Reduce.Kind.SUM, view, summed);
        view.close();
        scale(sum, 1.0 / axes.traceSize(f1));
        return sum;
    }

    /**
     * In place, for a kernel of x1 with itself laid out [N, N, tail...]: every entry below the example diagonal
     * becomes the mirror of the one above it, K[a, b, t] = K[b, a, σ(t)] for a &gt; b, where σ permutes the tail
     * by {@code mirror} (the kernel's {@link KernelAxes#mirrorPermutation()}, whose first two entries swap the
     * example axes). The computed kernel of x1 with itself then is exactly symmetric, whatever rounding each
     * evaluation order left, and a tile grid that computes only the blocks on and above the diagonal gives the
     * same bits.
     */
    static void mirrorUpper(Tensor k, int[] mirror) {
        int n = k.dim(0);
        int[] shape = k.shape();
        int[] tail = java.util.Arrays.copyOfRange(shape, 2, shape.length);
        int t = Shapes.size(tail);
        int[] swap = tailSwap(tail, mirror);
        // each upper block goes through heap arrays (bulk copies), its tail permuted there
        if (k.dtype() == org.ntk4j.tensor.DType.F32) {
            java.nio.FloatBuffer buf = k.floats();
            float[] upperBlock = new float[t];
            float[] lowerBlock = new float[t];
            for (int a = 1; a < n; a++) {
                for (int b = 0; b < a; b++) {
                    buf.get((b * n + a) * t, upperBlock);
                    for (int i = 0; i < t; i++) {
                        lowerBlock[i] = upperBlock[swap[i]];
                    }
                    buf.put((a * n + b) * t, lowerBlock);
                }
            }
            return;
        }
        java.nio.DoubleBuffer buf = k.doubles();
        double[] upperBlock = new double[t];
        double[] lowerBlock = new double[t];
        for (int a = 1; a < n; a++) {
            for (int b = 0; b < a; b++) {
                buf.get((b * n + a) * t, upperBlock);
                for (int i = 0; i < t; i++) {
                    lowerBlock[i] = upperBlock[swap[i]];
                }
                buf.put((a * n + b) * t, lowerBlock);
            }
        }
    }

    /**
     * For a tail of the given shape and the whole kernel's mirror permutation: swap[i] is the flat tail index
     * whose value the mirrored entry at flat tail index i takes.
     */
    static int[] tailSwap(int[] tail, int[] mirror) {
        int t = Shapes.size(tail);
        int[] strides = Shapes.strides(tail);
        int[] swap = new int[t];
        int[] idx = new int[tail.length];
        for (int i = 0; i < t; i++) {
            int rem = i;
            for (int d = 0; d < tail.length; d++) {
                idx[d] = rem / strides[d];
                rem %= strides[d];
            }
            int j = 0;
            for (int d = 0; d < tail.length; d++) {
                j += idx[mirror[d + 2] - 2] * strides[d];
            }
            swap[i] = j;
        }
        return swap;
    }

    /** In place: t *= c (nothing to do for c = 1). */
    static void scale(Tensor t, double c) {
        if (c != 1.0) {
            org.ntk4j.cpu.Elementwise.scaleInPlace(t, c);
        }
    }
}

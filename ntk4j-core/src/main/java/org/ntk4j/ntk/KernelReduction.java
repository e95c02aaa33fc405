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
        return reduce(full, Shapes.strides(full.shape()), axes, f1, f2);
    }

    /**
     * {@link #reduce} from the block of each example with itself, [N, O, O] (O the outputs' size per example), for
     * a batch axis kept diagonal or traced: read as the full kernel whose x2 examples axis has stride 0, so that
     * the batch axis's diagonal stride s_n1 + s_n2 is the block's own.
     */
    static Tensor reducePerExample(Tensor block, KernelAxes axes, int[] f1, int[] f2) {
        int r = axes.rank();
        int[] shape = new int[2 * r - 1];
        shape[0] = f1[0];
        System.arraycopy(f1, 1, shape, 1, r - 1);
        System.arraycopy(f2, 1, shape, r, r - 1);
        int[] st = Shapes.strides(shape);
        int[] s = new int[2 * r];
        System.arraycopy(st, 0, s, 0, r);
        System.arraycopy(st, r, s, r + 1, r - 1); // s[r] = 0: x2's examples axis
        return reduce(block, s, axes, f1, f2);
    }

    /**
     * In place, for a kernel of x1 with itself in any layout of {@link KernelAxes}: every entry whose mirror (its
     * index with each pair of axes (a1, a2) swapped, {@code mirror} = {@link KernelAxes#mirrorPermutation()}) comes
     * first in flat order takes the mirror's value, so that K = transpose(K, mirror) holds exactly — e.g.
     * Θ(x_n, x_n)[o2, o1] = Θ(x_n, x_n)[o1, o2] for a batch axis kept diagonal — whatever rounding each evaluation
     * order left. For the kernels without both example axes, which {@link #mirrorUpper} does not apply to (one
     * scalar pass over the kernel, N·O² entries for [N, O, O]: small beside the products that formed them).
     */
    static void mirrorAll(Tensor k, int[] mirror) {
        int[] shape = k.shape();
        int rank = shape.length;
        int[] strides = Shapes.strides(shape);
        int[] to = new int[rank]; // the stride, in K, of the axis each axis is mirrored to
        boolean identity = true;
        for (int e = 0; e < rank; e++) {
            to[e] = strides[mirror[e]];
            identity &= mirror[e] == e;
        }
        if (identity) {
            return;
        }
        int[] u = new int[rank];
        int size = k.size();
        for (int flat = 0; flat < size; flat++) {
            int mirrored = 0;
            for (int e = 0; e < rank; e++) {
                mirrored += u[e] * to[e];
            }
            if (mirrored < flat) {
                k.setFlat(flat, k.getFlat(mirrored));
            }
            for (int e = rank - 1; e >= 0 && ++u[e] == shape[e]; e--) {
                u[e] = 0;
            }
        }
    }

    /** {@link #reduce} reading the full kernel through the strides {@code s} of its 2·rank axes. */
    private static Tensor reduce(Tensor full, int[] s, KernelAxes axes, int[] f1, int[] f2) {
        int r = axes.rank();
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
     * example axes); on the diagonal, K[a, a, t] = K[a, a, σ(t)] likewise. The computed kernel of x1 with itself
     * then is exactly symmetric whatever rounding each evaluation order left: BLAS kernels (OpenBLAS's AVX-512
     * ones among them) need not give C[a, b] and C[b, a] of A·Aᵀ the same bits.
     */
    static void mirrorUpper(Tensor k, int[] mirror) {
        int n = k.dim(0);
        int[] shape = k.shape();
        int[] tail = java.util.Arrays.copyOfRange(shape, 2, shape.length);
        int t = Shapes.size(tail);
        int[] tailStrides = Shapes.strides(tail);
        // row a below the diagonal, as one strided copy: box [a] + tail; the source walks the column a above the
        // diagonal (b·n·t + a·t) with its tail axes permuted by σ, the destination row a (a·n·t + b·t) in order
        int r = tail.length + 1;
        int[] box = new int[r];
        int[] src = new int[r];
        int[] dst = new int[r];
        src[0] = n * t;
        dst[0] = t;
        for (int d = 0; d < tail.length; d++) {
            box[1 + d] = tail[d];
            dst[1 + d] = tailStrides[d];
            src[1 + mirror[d + 2] - 2] = tailStrides[d];
        }
        for (int a = 1; a < n; a++) {
            box[0] = a;
            Layout.stridedCopy(k, a * t, src, k, a * n * t, dst, box);
        }
        // the diagonal blocks K[a, a, u] = K[a, a, σ(u)]: an entry after its mirror (flat order) takes the
        // mirror's value, so that e.g. K[a, a, o2, o1] = K[a, a, o1, o2] holds exactly too
        int[] sigma = new int[t];
        int[] u = new int[tail.length];
        boolean identity = true;
        for (int flat = 0; flat < t; flat++) {
            int rest = flat;
            int mirrored = 0;
            for (int d = tail.length - 1; d >= 0; d--) {
                u[d] = rest % tail[d];
                rest /= tail[d];
            }
            for (int e = 0; e < tail.length; e++) {
                mirrored += u[e] * tailStrides[mirror[e + 2] - 2];
            }
            sigma[flat] = mirrored;
            identity &= mirrored == flat;
        }
        if (identity) {
            return;
        }
        for (int a = 0; a < n; a++) {
            int base = (a * n + a) * t;
            for (int flat = 0; flat < t; flat++) {
                if (sigma[flat] < flat) {
                    k.setFlat(base + flat, k.getFlat(base + sigma[flat]));
                }
            }
        }
    }

    /** In place: t *= c (nothing to do for c = 1). */
    static void scale(Tensor t, double c) {
        if (c != 1.0) {
            org.ntk4j.cpu.Elementwise.scaleInPlace(t, c);
        }
    }
}

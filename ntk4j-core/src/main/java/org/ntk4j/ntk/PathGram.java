package org.ntk4j.ntk;

import java.util.Arrays;
import org.ntk4j.primitive.LinearStructure;

/**
 * The Gram matrix G = L·Lᵀ of the example-independent linear path L: θ → p' from a parameter to the value its
 * consumer reads, kept as a Kronecker product over the axes of p': G = factor · ⊗_a G_a with each G_a the
 * identity ({@link Kind#ID}), the all-ones matrix ({@link Kind#ONES}: p' is constant along a) or a diagonal
 * ({@link Kind#DIAG}: weights w_a, e.g. the 0/1 mask of a pad or of one part of a concatenation).
 *
 * <p>Since the per-example Jacobian with respect to θ is J_θ = J_p'·L, the parameter's kernel block is
 * J1_p'·G·J2_p'ᵀ: structured derivatives applies G to its factors instead of forming L (ONES: sum the factor
 * over a on both sides; DIAG: weight one side by w_a; ID: nothing), so that parameters reached through
 * broadcast_in_dim, reduce_sum, slice, rev, pad, concatenate, reshape, transpose, neg or a scalar keep their
 * structured contraction. {@link #through} composes one primitive's {@link LinearStructure} into G:
 * <ul>
 *   <li>summed operand axis a: factor ·= 1ᵀG_a1 (ID: size, ONES: size², DIAG: Σw);</li>
 *   <li>broadcast of a size-1 axis or a new axis: G_a = ONES (the size-1 axis's scalar goes into the factor);</li>
 *   <li>select (slice, rev: a step of −1): G_a restricted to the selected indices, in their order (ID stays ID,
 *       a DIAG's weights are read in that order, reversed by rev); embed (pad): ID becomes the 0/1 mask, DIAG is
 *       embedded; an embedded ONES axis is not a Kronecker factor of this kind: no structure;</li>
 *   <li>regroup (reshape): merged or split axes must all be ID (or all ONES);</li>
 *   <li>scale s: factor ·= s².</li>
 * </ul>
 */
final class PathGram {
    enum Kind { ID, ONES, DIAG }

    final int[] shape;
    final Kind[] kind;
    /** The weights of DIAG axes (null elsewhere). */
    final double[][] weight;
    final double factor;

    private PathGram(int[] shape, Kind[] kind, double[][] weight, double factor) {
        this.shape = shape;
        this.kind = kind;
        this.weight = weight;
        this.factor = factor;
    }

    /** G = I for a parameter of this shape (p' = θ). */
    static PathGram identity(int[] shape) {
        Kind[] k = new Kind[shape.length];
        Arrays.fill(k, Kind.ID);
        return new PathGram(shape.clone(), k, new double[shape.length][], 1);
    }

    /** True when G is a multiple of the identity (the path is a scaled permutation or a reduction). */
    boolean isScaledIdentity() {
        for (Kind k : kind) {
            if (k != Kind.ID) {
                return false;
            }
        }
        return true;
    }

    /** 1ᵀ·G_a·1: what a summed axis contributes to the factor. */
    private double total(int a) {
        switch (kind[a]) {
            case ID:
                return shape[a];
            case ONES:
                return (double) shape[a] * shape[a];
            default:
                double s = 0;
                for (double w : weight[a]) {
                    s += w;
                }
                return s;
        }
    }

    /** G of the result of a primitive with this structure w.r.t. the path operand, or null when not representable. */
    PathGram through(LinearStructure s, int[] outShape) {
        PathGram in = foldUnitAxes();
        if (s.isRegroup()) {
            return in.regroup(outShape, s.scale());
        }
        double f = in.factor * s.scale() * s.scale();
        int r = outShape.length;
        boolean[] read = new boolean[in.shape.length];
        Kind[] k = new Kind[r];
        double[][] w = new double[r][];
        for (int j = 0; j < r; j++) {
            int a = s.source(j);
            if (a >= 0) {
                read[a] = true;
            }
            switch (s.map(j)) {
                case SAME:
                    k[j] = in.kind[a];
                    w[j] = in.weight[a];
                    break;
                case BROADCAST:
                    if (a >= 0) {
                        f *= in.total(a); // a size-1 axis: its scalar
                    }
                    k[j] = Kind.ONES;
                    break;
                case SELECT:
                    k[j] = in.kind[a];
                    if (in.kind[a] == Kind.DIAG) {
                        w[j] = new double[outShape[j]];
                        for (int i = 0; i < outShape[j]; i++) {
                            w[j][i] = in.weight[a][s.offset(j) + i * s.step(j)];
                        }
                    }
                    break;
                case EMBED:
                    if (in.kind[a] == Kind.ONES) {
                        return null;
                    }
                    k[j] = Kind.DIAG;
                    w[j] = new double[outShape[j]];
                    for (int m = 0; m < in.shape[a]; m++) {
                        int at = s.offset(j) + m * s.step(j);
                        if (at >= 0 && at < outShape[j]) {
                            w[j][at] = in.kind[a] == Kind.ID ? 1 : in.weight[a][m];
                        }
                    }
                    break;
                default:
                    throw new AssertionError(s.map(j));
            }
        }
        for (int a = 0; a < in.shape.length; a++) {
            if (!read[a]) {
                f *= in.total(a);
            }
        }
        return new PathGram(outShape.clone(), k, w, f).foldUnitAxes();
    }

    /** Axes of size 1 carry a scalar: moved into the factor, the axis becomes ID. */
    private PathGram foldUnitAxes() {
        double f = factor;
        Kind[] k = kind.clone();
        double[][] w = weight.clone();
        for (int a = 0; a < shape.length; a++) {
            if (shape[a] == 1 && k[a] != Kind.ID) {
                f *= total(a);
                k[a] = Kind.ID;
                w[a] = null;
            }
        }
        return new PathGram(shape, k, w, f);
    }

    /** Reshape: groups of axes with equal products; a group keeps its kind when it is one axis or all ID/ONES. */
    private PathGram regroup(int[] outShape, double scale) {
        int[] ins = nonUnit(shape);
        int[] outs = nonUnit(outShape);
        Kind[] k = new Kind[outShape.length];
        Arrays.fill(k, Kind.ID);
        double[][] w = new double[outShape.length][];
        int i = 0;
        int j = 0;
        while (i < ins.length && j < outs.length) {
            int i0 = i;
            int j0 = j;
            long pi = shape[ins[i++]];
            long pj = outShape[outs[j++]];
            while (pi != pj) {
                if (pi < pj) {
                    pi *= shape[ins[i++]];
                } else {
                    pj *= outShape[outs[j++]];
                }
            }
            if (i - i0 == 1 && j - j0 == 1) {
                k[outs[j0]] = kind[ins[i0]];
                w[outs[j0]] = weight[ins[i0]];
                continue;
            }
            Kind first = kind[ins[i0]];
            for (int q = i0; q < i; q++) {
                if (kind[ins[q]] != first || first == Kind.DIAG) {
                    return null;
                }
            }
            for (int q = j0; q < j; q++) {
                k[outs[q]] = first;
            }
        }
        return new PathGram(outShape.clone(), k, w, factor * scale * scale);
    }

    private static int[] nonUnit(int[] shape) {
        return java.util.stream.IntStream.range(0, shape.length).filter(a -> shape[a] != 1).toArray();
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(factor + " ·");
        for (int a = 0; a < shape.length; a++) {
            sb.append(' ').append(kind[a]).append('[').append(shape[a]).append(']');
        }
        return sb.toString();
    }
}

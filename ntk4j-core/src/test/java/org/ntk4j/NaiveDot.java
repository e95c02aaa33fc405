package org.ntk4j;

import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/** dot_general by nested loops over index tuples, straight from its definition: the reference for tests. */
public final class NaiveDot {
    private NaiveDot() {
    }

    /** Free axes (neither contracting nor batch) of an operand, increasing. */
    public static int[] free(int rank, int[] contract, int[] batch) {
        int[] r = new int[rank - contract.length - batch.length];
        int k = 0;
        for (int i = 0; i < rank; i++) {
            if (!Shapes.contains(contract, i) && !Shapes.contains(batch, i)) {
                r[k++] = i;
            }
        }
        return r;
    }

    /**
     * A row-major array of {@code shape} transposed by {@code perm} (result axis i is axis perm[i]), by index
     * arithmetic: the reference for permuted dot_general results.
     */
    public static double[] permuted(double[] values, int[] shape, int[] perm) {
        int[] outShape = Shapes.permute(shape, perm);
        double[] r = new double[values.length];
        for (int flat = 0; flat < r.length; flat++) {
            int[] outIdx = Fixtures.unravel(flat, outShape);
            int[] idx = new int[shape.length];
            for (int i = 0; i < perm.length; i++) {
                idx[perm[i]] = outIdx[i];
            }
            r[flat] = values[Fixtures.ravel(idx, shape)];
        }
        return r;
    }

    /** The expected result shape: batch sizes (lhs order), lhs free sizes, rhs free sizes. */
    public static int[] shape(int[] ls, int[] rs, int[] lc, int[] rc, int[] lb, int[] rb) {
        int[] lf = free(ls.length, lc, lb);
        int[] rf = free(rs.length, rc, rb);
        int[] out = new int[lb.length + lf.length + rf.length];
        int k = 0;
        for (int a : lb) {
            out[k++] = ls[a];
        }
        for (int a : lf) {
            out[k++] = ls[a];
        }
        for (int a : rf) {
            out[k++] = rs[a];
        }
        return out;
    }

    /** Σ over the contracting index tuple of lhs[...] · rhs[...], accumulated in double, for every output index. */
    public static double[] dot(Tensor lhs, Tensor rhs, int[] lc, int[] rc, int[] lb, int[] rb) {
        int[] ls = lhs.shape();
        int[] rs = rhs.shape();
        int[] lf = free(ls.length, lc, lb);
        int[] rf = free(rs.length, rc, rb);
        int[] outShape = shape(ls, rs, lc, rc, lb, rb);
        int[] cShape = new int[lc.length];
        for (int i = 0; i < lc.length; i++) {
            cShape[i] = ls[lc[i]];
        }
        int outSize = Shapes.size(outShape);
        int cSize = Shapes.size(cShape);
        double[] out = new double[outSize];
        int[] li = new int[ls.length];
        int[] ri = new int[rs.length];
        for (int o = 0; o < outSize; o++) {
            int[] oi = Fixtures.unravel(o, outShape);
            int k = 0;
            for (int i = 0; i < lb.length; i++, k++) {
                li[lb[i]] = oi[k];
                ri[rb[i]] = oi[k];
            }
            for (int a : lf) {
                li[a] = oi[k++];
            }
            for (int a : rf) {
                ri[a] = oi[k++];
            }
            double acc = 0;
            for (int c = 0; c < cSize; c++) {
                int[] ci = Fixtures.unravel(c, cShape);
                for (int i = 0; i < lc.length; i++) {
                    li[lc[i]] = ci[i];
                    ri[rc[i]] = ci[i];
                }
                acc += lhs.getFlat(Fixtures.ravel(li, ls)) * rhs.getFlat(Fixtures.ravel(ri, rs));
            }
            out[o] = acc;
        }
        return out;
    }
}

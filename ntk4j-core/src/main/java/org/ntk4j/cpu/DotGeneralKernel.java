package org.ntk4j.cpu;

import java.util.Arrays;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * dot_general on the CPU as (batched) GEMM.
 *
 * <p>Result layout (as XLA): batch axes (in the order given for the lhs), then the lhs free axes, then the rhs
 * free axes. The lhs is read as [B, M, K] or [B, K, M] and the rhs as [B, K, N] or [B, N, K], whichever its
 * memory layout already is, so the common cases (matmul, x·Wᵀ, Aᵀ·B, per-example batches) copy nothing; an
 * operand in any other layout is transposed once into [B, M, K] / [B, K, N]. Each batch is one GEMM call on
 * offsets into the same off-heap buffers.
 */
public final class DotGeneralKernel {
    private DotGeneralKernel() {
    }

    /** Computes dot_general(lhs, rhs) for already validated dimension numbers. */
    public static Tensor dot(Tensor lhs, Tensor rhs, int[] lhsContract, int[] rhsContract, int[] lhsBatch,
                             int[] rhsBatch) {
        int[][] pairs = sortedPairs(lhsContract, rhsContract);
        int[] lc = pairs[0];
        int[] rc = pairs[1];
        int[] lFree = Shapes.complement(lhs.rank(), Shapes.concat(lc, lhsBatch));
        int[] rFree = Shapes.complement(rhs.rank(), Shapes.concat(rc, rhsBatch));
        int[] ls = lhs.shape();
        int[] rs = rhs.shape();
        int b = prod(ls, lhsBatch);
        int m = prod(ls, lFree);
        int k = prod(ls, lc);
        int n = prod(rs, rFree);

        int[] outShape = Shapes.concat(pick(ls, lhsBatch), pick(ls, lFree), pick(rs, rFree));
        Tensor out = Tensor.empty(lhs.dtype(), outShape);

        boolean transA;
        Tensor a;
        if (isIdentity(ls, Shapes.concat(lhsBatch, lFree, lc))) {
            transA = false;
            a = lhs;
        } else if (isIdentity(ls, Shapes.concat(lhsBatch, lc, lFree))) {
            transA = true;
            a = lhs;
        } else {
            transA = false;
            a = Layout.transpose(lhs, Shapes.concat(lhsBatch, lFree, lc));
        }
        boolean transB;
        Tensor bt;
        if (isIdentity(rs, Shapes.concat(rhsBatch, rc, rFree))) {
            transB = false;
            bt = rhs;
        } else if (isIdentity(rs, Shapes.concat(rhsBatch, rFree, rc))) {
            transB = true;
            bt = rhs;
        } else {
            transB = false;
            bt = Layout.transpose(rhs, Shapes.concat(rhsBatch, rc, rFree));
        }
        try {
            int lda = transA ? m : k;
            int ldb = transB ? k : n;
            long aStride = (long) m * k;
            long bStride = (long) k * n;
            long cStride = (long) m * n;
            if (k == 0) {
                for (int i = 0; i < out.size(); i++) {
                    out.setFlat(i, 0);
                }
                return out;
            }
            for (int i = 0; i < b; i++) {
                Blas.gemm(transA, transB, m, n, k, 1.0, a, i * aStride, lda, bt, i * bStride, ldb,
                        0.0, out, i * cStride, n);
            }
            return out;
        } finally {
            if (a != lhs) {
                a.close();
            }
            if (bt != rhs) {
                bt.close();
            }
        }
    }

    /**
     * The contracting pairs ordered by lhs axis: a free choice (the sum is the same) that often matches the
     * lhs layout, so that no copy is needed.
     */
    private static int[][] sortedPairs(int[] lhsContract, int[] rhsContract) {
        int nc = lhsContract.length;
        Integer[] order = new Integer[nc];
        for (int i = 0; i < nc; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (p, q) -> Integer.compare(lhsContract[p], lhsContract[q]));
        int[] lc = new int[nc];
        int[] rc = new int[nc];
        for (int i = 0; i < nc; i++) {
            lc[i] = lhsContract[order[i]];
            rc[i] = rhsContract[order[i]];
        }
        return new int[][] {lc, rc};
    }

    /**
     * Elements of the transposed operand copies {@link #dot} makes for these shapes and dimension numbers
     * (0 when both operands are already in a GEMM layout): kernel scratch, for the memory model.
     */
    public static long scratchElements(int[] ls, int[] rs, int[] lhsContract, int[] rhsContract, int[] lhsBatch,
                                       int[] rhsBatch) {
        int[][] pairs = sortedPairs(lhsContract, rhsContract);
        int[] lc = pairs[0];
        int[] rc = pairs[1];
        int[] lFree = Shapes.complement(ls.length, Shapes.concat(lc, lhsBatch));
        int[] rFree = Shapes.complement(rs.length, Shapes.concat(rc, rhsBatch));
        long r = 0;
        if (!isIdentity(ls, Shapes.concat(lhsBatch, lFree, lc)) && !isIdentity(ls, Shapes.concat(lhsBatch, lc, lFree))) {
            r += Shapes.size(ls);
        }
        if (!isIdentity(rs, Shapes.concat(rhsBatch, rc, rFree)) && !isIdentity(rs, Shapes.concat(rhsBatch, rFree, rc))) {
            r += Shapes.size(rs);
        }
        return r;
    }

    /**
     * True when reading axes in the order {@code perm} walks memory in row-major order, i.e. perm is the
     * identity once axes of size 1 (which move nothing) are ignored.
     */
    public static boolean isIdentity(int[] shape, int[] perm) {
        int last = -1;
        for (int p : perm) {
            if (shape[p] == 1) {
                continue;
            }
            if (p < last) {
                return false;
            }
            last = p;
        }
        return true;
    }

    private static int prod(int[] shape, int[] axes) {
        long r = 1;
        for (int a : axes) {
            r *= shape[a];
        }
        return Math.toIntExact(r);
    }

    private static int[] pick(int[] shape, int[] axes) {
        int[] r = new int[axes.length];
        for (int i = 0; i < axes.length; i++) {
            r[i] = shape[axes[i]];
        }
        return r;
    }
}

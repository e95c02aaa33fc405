package org.ntk4j.primitive;

import java.util.Arrays;
import org.ntk4j.cpu.DotGeneralKernel;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * XLA's dot_general: contracts lhs axes {@code lhsContract[i]} with rhs axes {@code rhsContract[i]} and
 * batches over the pairs {@code (lhsBatch[i], rhsBatch[i])}. Result axes: the batch axes (in the order of
 * {@code lhsBatch}), then the lhs free axes, then the rhs free axes, each in increasing axis order.
 * Evaluated as (batched) GEMM by {@link DotGeneralKernel}.
 */
public final class DotGeneral implements Primitive {
    private final int[] lhsContract;
    private final int[] rhsContract;
    private final int[] lhsBatch;
    private final int[] rhsBatch;

    public DotGeneral(int[] lhsContract, int[] rhsContract, int[] lhsBatch, int[] rhsBatch) {
        this.lhsContract = lhsContract.clone();
        this.rhsContract = rhsContract.clone();
        this.lhsBatch = lhsBatch.clone();
        this.rhsBatch = rhsBatch.clone();
    }

    @Override
    public String name() {
        return "dot_general";
    }

    @Override
    public String params() {
        return "contract=(" + Arrays.toString(lhsContract) + "," + Arrays.toString(rhsContract) + ") batch=("
                + Arrays.toString(lhsBatch) + "," + Arrays.toString(rhsBatch) + ")";
    }

    public int[] lhsContract() {
        return lhsContract.clone();
    }

    public int[] rhsContract() {
        return rhsContract.clone();
    }

    public int[] lhsBatch() {
        return lhsBatch.clone();
    }

    public int[] rhsBatch() {
        return rhsBatch.clone();
    }

    /** Free (neither contracted nor batch) axes of the lhs, in increasing order. */
    public int[] lhsFree(int lhsRank) {
        return Shapes.complement(lhsRank, Shapes.concat(lhsContract, lhsBatch));
    }

    /** Free axes of the rhs, in increasing order. */
    public int[] rhsFree(int rhsRank) {
        return Shapes.complement(rhsRank, Shapes.concat(rhsContract, rhsBatch));
    }

    @Override
    public TensorType outputType(TensorType... in) {
        if (in.length != 2) {
            throw new IllegalArgumentException("dot_general: expects 2 operands, got " + in.length);
        }
        TensorType l = in[0];
        TensorType r = in[1];
        if (l.dtype() != r.dtype()) {
            throw new IllegalArgumentException("dot_general: operand dtypes differ: " + l + " and " + r);
        }
        if (lhsContract.length != rhsContract.length || lhsBatch.length != rhsBatch.length) {
            throw new IllegalArgumentException("dot_general: contracting axes " + Arrays.toString(lhsContract)
                    + " / " + Arrays.toString(rhsContract) + " and batch axes " + Arrays.toString(lhsBatch)
                    + " / " + Arrays.toString(rhsBatch) + " must pair up one to one");
        }
        checkAxes("lhs", l, Shapes.concat(lhsContract, lhsBatch));
        checkAxes("rhs", r, Shapes.concat(rhsContract, rhsBatch));
        int[] ls = l.shape();
        int[] rs = r.shape();
        for (int i = 0; i < lhsContract.length; i++) {
            if (ls[lhsContract[i]] != rs[rhsContract[i]]) {
                throw new IllegalArgumentException("dot_general: contracting lhs axis " + lhsContract[i]
                        + " (size " + ls[lhsContract[i]] + ") with rhs axis " + rhsContract[i] + " (size "
                        + rs[rhsContract[i]] + "): sizes differ; lhs " + l + ", rhs " + r);
            }
        }
        for (int i = 0; i < lhsBatch.length; i++) {
            if (ls[lhsBatch[i]] != rs[rhsBatch[i]]) {
                throw new IllegalArgumentException("dot_general: batch lhs axis " + lhsBatch[i] + " (size "
                        + ls[lhsBatch[i]] + ") with rhs axis " + rhsBatch[i] + " (size " + rs[rhsBatch[i]]
                        + "): sizes differ; lhs " + l + ", rhs " + r);
            }
        }
        int[] out = Shapes.concat(pick(ls, lhsBatch), pick(ls, lhsFree(ls.length)), pick(rs, rhsFree(rs.length)));
        return l.withShape(out);
    }

    private static void checkAxes(String side, TensorType t, int[] axes) {
        boolean[] seen = new boolean[t.rank()];
        for (int a : axes) {
            if (a < 0 || a >= t.rank()) {
                throw new IllegalArgumentException("dot_general: " + side + " axis " + a
                        + " is out of range for " + side + " " + t);
            }
            if (seen[a]) {
                throw new IllegalArgumentException("dot_general: " + side + " axis " + a
                        + " is used twice (contracting and batch axes must be distinct) for " + side + " " + t);
            }
            seen[a] = true;
        }
    }

    private static int[] pick(int[] shape, int[] axes) {
        int[] r = new int[axes.length];
        for (int i = 0; i < axes.length; i++) {
            r[i] = shape[axes[i]];
        }
        return r;
    }

    /** The operand copies the kernel makes when an operand is in no GEMM layout. */
    @Override
    public long workspaceBytes(TensorType[] inputs, TensorType output) {
        return DotGeneralKernel.scratchElements(inputs[0].shape(), inputs[1].shape(), lhsContract, rhsContract,
                lhsBatch, rhsBatch) * output.dtype().bytes();
    }

    /** 2 · (output size) · (contracted size). */
    @Override
    public double flops(TensorType[] inputs, TensorType output) {
        double k = 1;
        for (int a : lhsContract) {
            k *= inputs[0].dim(a);
        }
        return 2.0 * output.size() * k;
    }

    @Override
    public Tensor evaluate(Tensor... in) {
        return DotGeneralKernel.dot(in[0], in[1], lhsContract, rhsContract, lhsBatch, rhsBatch);
    }

    /**
     * Bilinear: d(l·r) = dl·r + l·dr. A stacked operand's K axis is one more free axis of that operand; it lands
     * after the batch axes (lhs) or after the lhs free axes (rhs) and is moved to the front.
     */
    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        int nb = lhsBatch.length;
        Var a = null;
        if (t[0] != null) {
            Var d = t[0].dotGeneral(p[1], Stacked.shift(lhsContract), rhsContract, Stacked.shift(lhsBatch),
                    rhsBatch);
            a = d.transpose(moveToFront(d.rank(), nb));
        }
        Var b = null;
        if (t[1] != null) {
            Var d = p[0].dotGeneral(t[1], lhsContract, Stacked.shift(rhsContract), lhsBatch,
                    Stacked.shift(rhsBatch));
            b = d.transpose(moveToFront(d.rank(), nb + lhsFree(p[0].rank()).length));
        }
        return Stacked.add(a, b);
    }

    /**
     * Transposes: dl = ct ·(over the rhs free axes) r, dr = ct ·(over the lhs free axes) l, batched over the
     * batch axes; the results are permuted back into the operand's own axis order.
     */
    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        int lr = p[0].rank();
        int rr = p[1].rank();
        int nb = lhsBatch.length;
        int[] lf = lhsFree(lr);
        int[] rf = rhsFree(rr);
        // cotangent axes: 0 = K, 1..nb = batch, then lhs free, then rhs free
        int[] ctBatch = range(1, nb);
        int[] ctLhsFree = range(1 + nb, lf.length);
        int[] ctRhsFree = range(1 + nb + lf.length, rf.length);
        Var[] r = new Var[2];
        if (needed[0]) {
            // -> [batch..., K, lhs free..., rhs contracting axes in increasing order]
            Var d = ct.dotGeneral(p[1], ctRhsFree, rf, ctBatch, rhsBatch);
            r[0] = d.transpose(backToOperand(lr, lhsBatch, lf, lhsContract, rhsContract));
        }
        if (needed[1]) {
            Var d = ct.dotGeneral(p[0], ctLhsFree, lf, ctBatch, lhsBatch);
            r[1] = d.transpose(backToOperand(rr, rhsBatch, rf, rhsContract, lhsContract));
        }
        return r;
    }

    /**
     * The permutation taking [batch..., K, free..., partner-contracting axes sorted] to [K] + operand axes.
     * Operand contracting axis {@code own[i]} is paired with {@code partner[i]}, which sits at the rank of
     * {@code partner[i]} among the sorted partner axes.
     */
    private static int[] backToOperand(int rank, int[] batch, int[] free, int[] own, int[] partner) {
        int nb = batch.length;
        int[] position = new int[rank]; // position of operand axis j in the computed tensor
        for (int i = 0; i < nb; i++) {
            position[batch[i]] = i;
        }
        for (int i = 0; i < free.length; i++) {
            position[free[i]] = nb + 1 + i;
        }
        int[] sortedPartner = partner.clone();
        Arrays.sort(sortedPartner);
        for (int i = 0; i < own.length; i++) {
            position[own[i]] = nb + 1 + free.length + Arrays.binarySearch(sortedPartner, partner[i]);
        }
        int[] perm = new int[rank + 1];
        perm[0] = nb;
        for (int j = 0; j < rank; j++) {
            perm[j + 1] = position[j];
        }
        return perm;
    }

    private static int[] range(int from, int n) {
        int[] r = new int[n];
        for (int i = 0; i < n; i++) {
            r[i] = from + i;
        }
        return r;
    }

    /** Permutation moving axis {@code axis} to position 0, the rest in order. */
    static int[] moveToFront(int rank, int axis) {
        int[] perm = new int[rank];
        perm[0] = axis;
        for (int i = 0, j = 1; i < rank; i++) {
            if (i != axis) {
                perm[j++] = i;
            }
        }
        return perm;
    }
}

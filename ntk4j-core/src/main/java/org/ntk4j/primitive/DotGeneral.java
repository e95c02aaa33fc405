package org.ntk4j.primitive;

import java.util.Arrays;
import org.ntk4j.cpu.DotGeneralKernel;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * XLA's dot_general: contracts lhs axes {@code lhsContract[i]} with rhs axes {@code rhsContract[i]} and
 * batches over the pairs {@code (lhsBatch[i], rhsBatch[i])}. Logical result axes: the batch axes (in the order
 * of {@code lhsBatch}), then the lhs free axes, then the rhs free axes, each in increasing axis order.
 *
 * <p>An optional output permutation {@code outPerm} (printed {@code out_perm}) gives the result
 * {@code transpose(logical result, outPerm)} in one operation: {@link DotGeneralKernel} writes the permuted
 * layout directly (strided GEMM output) instead of forming the logical layout and transposing it. Traced
 * models never use it; the derivative rules below do, so that a stacked weight cotangent comes out in the
 * parameter's own axis order and a stacked tangent with its K axis first, with no transpose materialised.
 */
public final class DotGeneral implements Primitive {
    private final int[] lhsContract;
    private final int[] rhsContract;
    private final int[] lhsBatch;
    private final int[] rhsBatch;
    /** Null for the logical layout; else result axis i is logical axis outPerm[i]. */
    private final int[] outPerm;

    /**
     * dot_general with the result in the logical layout; the axes are checked against the operands by
     * {@link #outputType}.
     *
     * @param lhsContract the lhs axes contracted, copied
     * @param rhsContract the rhs axes contracted with them, pairwise, copied
     * @param lhsBatch the lhs batch axes, copied
     * @param rhsBatch the rhs batch axes paired with them, copied
     */
    public DotGeneral(int[] lhsContract, int[] rhsContract, int[] lhsBatch, int[] rhsBatch) {
        this(lhsContract, rhsContract, lhsBatch, rhsBatch, null);
    }

    /**
     * dot_general whose result is the logical result transposed by {@code outPerm} (null: not permuted).
     *
     * @param lhsContract the lhs axes contracted, copied
     * @param rhsContract the rhs axes contracted with them, pairwise, copied
     * @param lhsBatch the lhs batch axes, copied
     * @param rhsBatch the rhs batch axes paired with them, copied
     * @param outPerm result axis i is logical axis {@code outPerm[i]}; null or the identity for the logical
     *     layout; copied
     */
    public DotGeneral(int[] lhsContract, int[] rhsContract, int[] lhsBatch, int[] rhsBatch, int[] outPerm) {
        this.lhsContract = lhsContract.clone();
        this.rhsContract = rhsContract.clone();
        this.lhsBatch = lhsBatch.clone();
        this.rhsBatch = rhsBatch.clone();
        this.outPerm = outPerm == null || Arrays.equals(outPerm, Shapes.iota(outPerm.length)) ? null
                : outPerm.clone();
    }

    @Override
    public String name() {
        return "dot_general";
    }

    @Override
    public String params() {
        return "contract=(" + Arrays.toString(lhsContract) + "," + Arrays.toString(rhsContract) + ") batch=("
                + Arrays.toString(lhsBatch) + "," + Arrays.toString(rhsBatch) + ")"
                + (outPerm == null ? "" : " out_perm=" + Arrays.toString(outPerm));
    }

    /**
     * Whether the result is in XLA's logical layout.
     *
     * @return true when there is no output permutation
     */
    public boolean logicalLayout() {
        return outPerm == null;
    }

    /**
     * The lhs axes contracted.
     *
     * @return a copy of the lhs axes contracted
     */
    public int[] lhsContract() {
        return lhsContract.clone();
    }

    /**
     * The rhs axes contracted.
     *
     * @return a copy of the rhs axes contracted, paired with {@link #lhsContract()}
     */
    public int[] rhsContract() {
        return rhsContract.clone();
    }

    /**
     * The lhs batch axes.
     *
     * @return a copy of the lhs batch axes
     */
    public int[] lhsBatch() {
        return lhsBatch.clone();
    }

    /**
     * The rhs batch axes.
     *
     * @return a copy of the rhs batch axes, paired with {@link #lhsBatch()}
     */
    public int[] rhsBatch() {
        return rhsBatch.clone();
    }

    /**
     * Free (neither contracted nor batch) axes of the lhs, in increasing order.
     *
     * @param lhsRank the rank of the lhs operand
     * @return a new array of the lhs free axes
     */
    public int[] lhsFree(int lhsRank) {
        return Shapes.complement(lhsRank, Shapes.concat(lhsContract, lhsBatch));
    }

    /**
     * Free (neither contracted nor batch) axes of the rhs, in increasing order.
     *
     * @param rhsRank the rank of the rhs operand
     * @return a new array of the rhs free axes
     */
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
        if (outPerm != null) {
            if (!Shapes.isPermutation(outPerm, out.length)) {
                throw new IllegalArgumentException("dot_general: out_perm " + Arrays.toString(outPerm)
                        + " is not a permutation of the " + out.length + " result axes " + Shapes.str(out)
                        + "; lhs " + l + ", rhs " + r);
            }
            out = Shapes.permute(out, outPerm);
        }
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

    /**
     * The operand copies the kernel makes when an operand is in no GEMM layout, and the transposed copy of a weight
     * read by a float32 product with few rows ({@link DotGeneralKernel#transposedOperandElements}).
     */
    @Override
    public long workspaceBytes(TensorType[] inputs, TensorType output) {
        return (DotGeneralKernel.scratchElements(inputs[0].shape(), inputs[1].shape(), lhsContract, rhsContract,
                lhsBatch, rhsBatch, outPerm) + DotGeneralKernel.transposedOperandElements(inputs[0].shape(),
                inputs[1].shape(), lhsContract, rhsContract, lhsBatch, rhsBatch, outPerm, output.dtype()))
                * output.dtype().bytes();
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

    /**
     * A parameter on either side of a dot_general without batch axes, in the logical layout, whose data operand
     * keeps its example axis 0 free (and, with the parameter on the left, gives y's first axis: the parameter
     * then has no free axes): the data's free axes other than the examples are the positions R, its contracted
     * axes the fan-in C, the parameter's free axes the features F. None otherwise.
     */
    @Override
    public ConsumerRule consumerRule(TensorType[] inputs, TensorType output, int operand, Tensor[] constants) {
        int dataSide = 1 - operand;
        int[] dataContract = dataSide == 0 ? lhsContract : rhsContract;
        int[] pContract = operand == 0 ? lhsContract : rhsContract;
        int dataRank = inputs[dataSide].rank();
        int pRank = inputs[operand].rank();
        if (!logicalLayout() || lhsBatch.length != 0 || dataRank == 0 || Shapes.contains(dataContract, 0)
                || (dataSide == 1 && lhsFree(pRank).length != 0)) {
            return null;
        }
        int[] dataFree = dataSide == 0 ? lhsFree(dataRank) : rhsFree(dataRank);
        int[] pFree = operand == 0 ? lhsFree(pRank) : rhsFree(pRank);
        int[] ps = inputs[operand].shape();
        int[] ds = inputs[dataSide].shape();
        int c = 1;
        for (int a : pContract) {
            c *= ps[a];
        }
        int f = 1;
        for (int a : pFree) {
            f *= ps[a];
        }
        int r = 1;
        for (int i = 1; i < dataFree.length; i++) {
            r *= ds[dataFree[i]];
        }
        int paramFree = pFree.length;
        int nDataFree = dataFree.length;
        return new ConsumerRule.Linear(pContract, pFree, r, c, f) {
            @Override
            public Tensor data(Tensor a) {
                Tensor t = org.ntk4j.cpu.Layout.transpose(a, Shapes.concat(dataFree, dataContract));
                int n = a.dim(0);
                return t.reshapeMove(n, t.size() / (n * Math.max(1, fanIn())), fanIn());
            }

            /** With the data on the left, y = [data free..., p' free...]: D is δ reshaped. */
            @Override
            public boolean cotangentIsReshape() {
                return dataSide == 0;
            }

            @Override
            public Tensor cotangent(Tensor delta) {
                int k = delta.dim(0);
                int n = delta.dim(1);
                // y = [lhs free..., rhs free...], behind the stacked axis 0
                int dataStart = dataSide == 0 ? 0 : paramFree;
                int paramStart = dataSide == 0 ? nDataFree : 0;
                int[] perm = new int[1 + nDataFree + paramFree];
                for (int i = 0; i < nDataFree; i++) {
                    perm[1 + i] = 1 + dataStart + i;
                }
                for (int i = 0; i < paramFree; i++) {
                    perm[1 + nDataFree + i] = 1 + paramStart + i;
                }
                int[] d = {k, n, delta.size() / (k * n * Math.max(1, features())), features()};
                if (cotangentIsReshape()) {
                    return delta.readView(d); // the permutation is the identity: δ read in place
                }
                return org.ntk4j.cpu.Layout.transpose(delta, perm).reshapeMove(d);
            }
        };
    }

    @Override
    public Tensor evaluate(Tensor... in) {
        return DotGeneralKernel.dot(in[0], in[1], lhsContract, rhsContract, lhsBatch, rhsBatch, outPerm);
    }

    /**
     * Bilinear: d(l·r) = dl·r + l·dr. A stacked operand's K axis is one more free axis of that operand (it lands
     * after the batch axes for the lhs, after the lhs free axes for the rhs); each term is one dot_general whose
     * output permutation puts K first and the rest in this equation's (possibly permuted) result order, so the
     * kernel writes the stacked tangent directly (a broadcast-batch GEMM over K when the partner is unstacked).
     */
    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        int nb = lhsBatch.length;
        int nlf = lhsFree(p[0].rank()).length;
        Var a = null;
        if (t[0] != null) {
            a = t[0].dotGeneral(p[1], Stacked.shift(lhsContract), rhsContract, Stacked.shift(lhsBatch), rhsBatch,
                    stackedOrder(out.rank(), nb));
        }
        Var b = null;
        if (t[1] != null) {
            b = p[0].dotGeneral(t[1], lhsContract, Stacked.shift(rhsContract), lhsBatch, Stacked.shift(rhsBatch),
                    stackedOrder(out.rank(), nb + nlf));
        }
        return Stacked.add(a, b);
    }

    /**
     * The output permutation of a tangent term whose logical result is this equation's logical result with the
     * K axis inserted at {@code kAt} (logical axes from {@code kAt} on move up by one): K first, then this
     * equation's result order ({@code rank} result axes).
     */
    private int[] stackedOrder(int rank, int kAt) {
        int[] perm = new int[rank + 1];
        perm[0] = kAt;
        for (int i = 0; i < rank; i++) {
            int q = outPerm == null ? i : outPerm[i];
            perm[i + 1] = q < kAt ? q : q + 1;
        }
        return perm;
    }

    /**
     * Transposes: dl = ct ·(over the rhs free axes) r, dr = ct ·(over the lhs free axes) l, batched over the
     * batch axes; each is one dot_general whose output permutation yields [K] + the operand's own axis order,
     * so no transpose of the (possibly huge, e.g. stacked weight) cotangent is materialised.
     */
    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        int lr = p[0].rank();
        int rr = p[1].rank();
        int nb = lhsBatch.length;
        int[] lf = lhsFree(lr);
        int[] rf = rhsFree(rr);
        int logical = nb + lf.length + rf.length;
        // ct axis of logical result axis q: 1 + (position of q in the result)
        int[] ctAxis = new int[logical];
        for (int i = 0; i < logical; i++) {
            ctAxis[outPerm == null ? i : outPerm[i]] = 1 + i;
        }
        int[] ctBatch = new int[nb];
        for (int i = 0; i < nb; i++) {
            ctBatch[i] = ctAxis[i];
        }
        int[] ctLhsFree = new int[lf.length];
        for (int i = 0; i < lf.length; i++) {
            ctLhsFree[i] = ctAxis[nb + i];
        }
        int[] ctRhsFree = new int[rf.length];
        for (int i = 0; i < rf.length; i++) {
            ctRhsFree[i] = ctAxis[nb + lf.length + i];
        }
        Var[] r = new Var[2];
        if (needed[0]) {
            r[0] = ct.dotGeneral(p[1], ctRhsFree, rf, ctBatch, rhsBatch,
                    backToOperand(lr, lhsBatch, ctLhsFree, lf, lhsContract, rhsContract));
        }
        if (needed[1]) {
            r[1] = ct.dotGeneral(p[0], ctLhsFree, lf, ctBatch, lhsBatch,
                    backToOperand(rr, rhsBatch, ctRhsFree, rf, rhsContract, lhsContract));
        }
        return r;
    }

    /**
     * The output permutation taking the logical result of dot(ct, partner) — [batch..., ct's free axes in
     * increasing order (K = ct axis 0, and the ct axes {@code ctFree[i]} that are operand axes {@code free[i]}),
     * partner's free axes = its contracting axes {@code partner} in increasing order] — to [K] + operand axes.
     * Operand contracting axis {@code own[i]} is paired with partner axis {@code partner[i]}.
     */
    private static int[] backToOperand(int rank, int[] batch, int[] ctFree, int[] free, int[] own,
                                       int[] partner) {
        int nb = batch.length;
        int[] position = new int[rank]; // position of operand axis j in the computed tensor
        for (int i = 0; i < nb; i++) {
            position[batch[i]] = i;
        }
        // ct's free axes in increasing ct order: K (axis 0) first, then the others as they lie in ct
        int[] sortedCtFree = ctFree.clone();
        Arrays.sort(sortedCtFree);
        for (int i = 0; i < free.length; i++) {
            position[free[i]] = nb + 1 + Arrays.binarySearch(sortedCtFree, ctFree[i]);
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
}

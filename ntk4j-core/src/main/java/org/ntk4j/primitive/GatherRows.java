package org.ntk4j.primitive;

import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.util.Arrays;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Rows of a table picked by integer ids that the examples carry (an embedding lookup, ONNX's Gather, NumPy's
 * {@code take}): operands the table T and the ids I, whole numbers in a floating dtype; result
 * {@code T.shape[:axis] + I.shape + T.shape[axis+1:]}, {@code out[p, i, q] = T[p, row(I[i]), q]}. With V the
 * size of T's axis, an id in [0, V) is its row and one in [−V, 0) counts from the end (row id + V), as in ONNX;
 * any other value (out of range, not whole, NaN) gives a row of NaN, never a silent zero row: the one-hot
 * product {@code Σ_v onehot(I)[i, v] · T[p, v, q]} with {@code onehot[i, v] = ([I[i] = v] + [I[i] = v − V])}
 * divided by its sum over v that this primitive replaces gives the same values and the same NaN, at N·L·D rather
 * than N·L·V·D of memory and work.
 *
 * <p>Linear in T; the ids only select (their derivative is 0). JVP: the tangent of T gathered with the same ids.
 * VJP: T̄ = {@link ScatterRows}, the cotangent's rows added into a V-row zero table; Ī = 0. Where T is a parameter
 * and the ids carry the examples on axis 0 of a gather on axis 0, the {@link ConsumerRule.Linear} of structured
 * derivatives is the one-hot's: data factor A[n, r, v] = onehot(I[n, r])[v] over the R ids of an example, whose
 * Gram {@link ConsumerRule.Linear#dataGram} is id equality, {@code Σ_v A1[n1, r1, v] A2[n2, r2, v] = [row1 =
 * row2]}, and whose rows A[n]ᵀ·D are a scatter of D's rows; structured derivatives' factored order reads the
 * one-hot's columns, the ids ({@link ConsumerRule.Linear#oneHotColumns}): none forms the one-hot.
 */
public final class GatherRows implements Primitive {
    private final int axis;

    /**
     * Creates the gather; the axis is checked against the table by {@link #outputType}.
     *
     * @param axis the axis of the table that the ids index
     */
    public GatherRows(int axis) {
        this.axis = axis;
    }

    /**
     * The axis of the table that the ids index.
     *
     * @return the axis, 0 or more
     */
    public int axis() {
        return axis;
    }

    @Override
    public String name() {
        return "gather_rows";
    }

    @Override
    public String params() {
        return "axis=" + axis;
    }

    @Override
    public TensorType outputType(TensorType... in) {
        if (in.length != 2) {
            throw new IllegalArgumentException(name() + ": expects 2 operands (table, ids), got " + in.length);
        }
        int[] s = in[0].shape();
        if (axis < 0 || axis >= s.length) {
            throw new IllegalArgumentException(name() + ": axis " + axis + " is out of range for the table "
                    + in[0] + " (expected 0 to " + (s.length - 1) + ")");
        }
        checkIdType(name(), in[1]);
        return in[0].withShape(Shapes.concat(Arrays.copyOfRange(s, 0, axis), in[1].shape(),
                Arrays.copyOfRange(s, axis + 1, s.length)));
    }

    /** Refuses ids that are not in a floating dtype (they arrive as whole numbers in the data's dtype). */
    static void checkIdType(String op, TensorType ids) {
        if (ids.dtype() != DType.F32 && ids.dtype() != DType.F64) {
            throw new IllegalArgumentException(op + ": expects the ids as whole numbers in f32 or f64, got " + ids);
        }
    }

    /** One per id: its range check. The copy of the rows is data movement. */
    @Override
    public double flops(TensorType[] inputs, TensorType output) {
        return inputs[1].size();
    }

    @Override
    public ConsumerRule consumerRule(TensorType[] inputs, TensorType output, int operand, Tensor[] constants) {
        // no rule without ids (R = 0 positions, or no examples): a Linear rule has R >= 1
        if (operand != 0 || axis != 0 || inputs[1].rank() == 0 || inputs[1].size() == 0) {
            return null;
        }
        return new IdRows(inputs[0].dtype(), inputs[0].shape(), inputs[1].shape());
    }

    @Override
    public Tensor evaluate(Tensor... in) {
        int[] out = outputType(TensorType.of(in[0]), TensorType.of(in[1])).shape();
        int[] s = in[0].shape();
        int[] rows = rowIndices(in[1], s[axis]);
        return gather(in[0], rows, Shapes.size(s, 0, axis), s[axis], Shapes.size(s, axis + 1, s.length), out);
    }

    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        // the ids are piecewise constant: only the table's tangent moves the result
        return t[0] == null ? null : p[0].builder().apply(new GatherRows(axis + 1), t[0], p[1]);
    }

    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        Var table = needed[0] ? p[0].builder().apply(new ScatterRows(axis + 1, p[0].shape()[axis]), ct, p[1]) : null;
        return new Var[] {table, null};
    }

    /**
     * The row each id picks among {@code size} rows: the id, or id + size for an id in [−size, 0); −1 for any other
     * value (out of range, not whole, NaN).
     */
    static int row(double id, int size) {
        if (!(id >= -size && id < size) || id != Math.rint(id)) {
            return -1;
        }
        int r = (int) id;
        return r < 0 ? r + size : r;
    }

    /** {@link #row} of every id, in row-major order. */
    static int[] rowIndices(Tensor ids, int size) {
        int[] r = new int[ids.size()];
        if (ids.dtype() == DType.F64) {
            DoubleBuffer b = ids.doubles();
            for (int i = 0; i < r.length; i++) {
                r[i] = row(b.get(i), size);
            }
        } else {
            FloatBuffer b = ids.floats();
            for (int i = 0; i < r.length; i++) {
                r[i] = row(b.get(i), size);
            }
        }
        return r;
    }

    /**
     * out[p, i, q] = t[p, rows[i], q] for t viewed as [outer, size, inner], NaN where rows[i] is −1.
     */
    static Tensor gather(Tensor t, int[] rows, int outer, int size, int inner, int[] outShape) {
        Tensor out = Tensor.empty(t.dtype(), outShape);
        int m = rows.length;
        boolean f64 = t.dtype() == DType.F64;
        DoubleBuffer srcD = f64 ? t.doubles() : null;
        DoubleBuffer dstD = f64 ? out.doubles() : null;
        FloatBuffer srcF = f64 ? null : t.floats();
        FloatBuffer dstF = f64 ? null : out.floats();
        // the blocks p (the stacked tangents of a JVP among them) are independent: split across cores
        org.ntk4j.cpu.Parallel.range(outer, Math.max(1, org.ntk4j.cpu.Parallel.DEFAULT_GRAIN
                / Math.max(1, m * inner)), (from, to) -> {
                    for (int p = from; p < to; p++) {
                        for (int i = 0; i < m; i++) {
                            int dst = (p * m + i) * inner;
                            if (rows[i] < 0) {
                                fill(dstD, dstF, dst, inner, Double.NaN);
                            } else if (f64) {
                                dstD.put(dst, srcD, (p * size + rows[i]) * inner, inner);
                            } else {
                                dstF.put(dst, srcF, (p * size + rows[i]) * inner, inner);
                            }
                        }
                    }
                });
        return out;
    }

    /** Writes {@code value} into {@code count} elements from {@code from} of whichever buffer is not null. */
    static void fill(DoubleBuffer d, FloatBuffer f, int from, int count, double value) {
        for (int j = 0; j < count; j++) {
            if (d != null) {
                d.put(from + j, value);
            } else {
                f.put(from + j, (float) value);
            }
        }
    }

    /**
     * The consumer rule of a table T [V, features...] gathered on axis 0 by ids [N, positions...]: the one-hot
     * A[n, r, v] = onehot(I[n, r])[v] (C = V, R = the ids of an example), D the cotangent of y = [N, R..., F...]
     * reshaped. The data Gram is id equality, the rows a scatter-add of D, and the columns of the one-hot the
     * ids' rows (structured derivatives' factored order sums M's rows per distinct id): A is formed only by {@link
     * #data}, for a row order with a bias column.
     */
    private static final class IdRows extends ConsumerRule.Linear {
        /** The table's dtype: A and its Gram are formed in it, whatever the ids' floating dtype. */
        private final DType dtype;

        IdRows(DType dtype, int[] table, int[] ids) {
            super(new int[] {0}, Arrays.copyOfRange(Shapes.iota(table.length), 1, table.length),
                    Shapes.size(ids) / ids[0], table[0], Shapes.size(table, 1, table.length));
            this.dtype = dtype;
        }

        /** The one-hot [N, R, V] (NaN rows for ids out of range), for the orders that read A itself. */
        @Override
        public Tensor data(Tensor ids) {
            int n = ids.dim(0);
            int v = fanIn();
            int[] rows = rowIndices(ids, v);
            Tensor a = Tensor.zeros(dtype, n, positions(), v);
            boolean f64 = a.dtype() == DType.F64;
            DoubleBuffer d = f64 ? a.doubles() : null;
            FloatBuffer f = f64 ? null : a.floats();
            for (int i = 0; i < rows.length; i++) {
                if (rows[i] < 0) {
                    fill(d, f, i * v, v, Double.NaN);
                } else {
                    fill(d, f, i * v + rows[i], 1, 1.0);
                }
            }
            return a;
        }

        /** y = [N, R..., F...]: D is δ reshaped, read in place. */
        @Override
        public boolean cotangentIsReshape() {
            return true;
        }

        @Override
        public Tensor cotangent(Tensor delta) {
            return cotangentInPlace(delta);
        }

        @Override
        public boolean dataGramWithoutData() {
            return true;
        }

        /** A's one in each row is at its id's row of the table. */
        @Override
        public boolean oneHotData() {
            return true;
        }

        /** The ids' rows of the table ({@link #row}): −1 for an id out of range, the one-hot's NaN row. */
        @Override
        public int[] oneHotColumns(Tensor ids) {
            return rowIndices(ids, fanIn());
        }

        /**
         * [row(I1[n1, r1]) = row(I2[n2, r2])], NaN where either id is out of range (as the one-hot's NaN rows give).
         */
        @Override
        public Tensor dataGram(Tensor ids1, Tensor ids2, boolean perExample) {
            int v = fanIn();
            int r = positions();
            int[] a = rowIndices(ids1, v);
            int[] b = ids2 == ids1 ? a : rowIndices(ids2, v);
            int n1 = ids1.dim(0);
            int n2 = ids2.dim(0);
            Tensor g = perExample ? Tensor.empty(dtype, n1, r, r) : Tensor.empty(dtype, n1, r, n2, r);
            int cols = perExample ? r : n2 * r;
            boolean f64 = g.dtype() == DType.F64;
            DoubleBuffer d = f64 ? g.doubles() : null;
            FloatBuffer f = f64 ? null : g.floats();
            org.ntk4j.cpu.Parallel.range(n1 * r, Math.max(1, org.ntk4j.cpu.Parallel.DEFAULT_GRAIN / cols),
                    (from, to) -> {
                        for (int i = from; i < to; i++) {
                            int first = perExample ? i / r * r : 0;
                            for (int j = 0; j < cols; j++) {
                                int x = a[i];
                                int y = b[first + j];
                                fill(d, f, i * cols + j, 1, x < 0 || y < 0 ? Double.NaN : x == y ? 1 : 0);
                            }
                        }
                    });
            return g;
        }

        /** One comparison per element of the Gram. */
        @Override
        public double dataGramFlops(long n1, long n2, boolean perExample) {
            long r = positions();
            return perExample ? (double) n1 * r * r : (double) n1 * r * n2 * r;
        }

        /** J[n, o, f, v] = Σ_r [row(I[n, r]) = v] D[o, n, r, f]: D's rows added at their ids' columns. */
        @Override
        public boolean rowsWithoutData() {
            return true;
        }

        @Override
        public Tensor rows(Tensor ids, Tensor d) {
            int v = fanIn();
            int r = positions();
            int[] at = rowIndices(ids, v);
            int o = d.dim(0);
            int n = d.dim(1);
            int feat = features();
            Tensor j = Tensor.zeros(d.dtype(), n, o, feat, v);
            boolean f64 = j.dtype() == DType.F64;
            DoubleBuffer src = f64 ? d.doubles() : null;
            DoubleBuffer dst = f64 ? j.doubles() : null;
            FloatBuffer srcF = f64 ? null : d.floats();
            FloatBuffer dstF = f64 ? null : j.floats();
            org.ntk4j.cpu.Parallel.range(n, 1, (from, to) -> {
                for (int e = from; e < to; e++) {
                    for (int q = 0; q < r; q++) {
                        int col = at[e * r + q];
                        for (int k = 0; k < o; k++) {
                            int base = (e * o + k) * feat * v;
                            int from2 = ((k * n + e) * r + q) * feat;
                            if (col < 0) { // the one-hot's NaN row spreads over every column of the example
                                for (int c = 0; c < feat; c++) {
                                    fill(dst, dstF, base + c * v, v, Double.NaN);
                                }
                                continue;
                            }
                            for (int c = 0; c < feat; c++) {
                                int p = base + c * v + col;
                                if (f64) {
                                    dst.put(p, dst.get(p) + src.get(from2 + c));
                                } else {
                                    dstF.put(p, dstF.get(p) + srcF.get(from2 + c));
                                }
                            }
                        }
                    }
                }
            });
            return j;
        }

        /** One addition per element of D. */
        @Override
        public double rowsFlops(long n, long o) {
            return (double) n * o * positions() * features();
        }
    }
}

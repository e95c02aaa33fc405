package org.ntk4j.primitive;

import org.ntk4j.graph.TensorType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * How an equation y = g(p', a) consumes a parameter-only operand p' while its other operand a carries the
 * examples on axis 0 (a <em>parameter consumer</em>): the structure of the per-example Jacobian ∂y_n/∂p' that
 * structured derivatives contract without forming it, declared by the primitive's own class
 * ({@link Primitive#consumerRule}) next to its JVP, VJP and {@link LinearStructure}. Two kinds:
 * <ul>
 *   <li>{@link Linear}: y is linear in p' with a constant block-diagonal Jacobian over the positions R that
 *       share p': J[o, n] = Σ_r A[n, r, ·] ⊗ D[o, n, r, ·] with A the data factor [N, R, C] (C the fan-in) and D
 *       the cotangent [O, N, R, F] (F the output features) — dot_general with p' on either side, a conv
 *       filter;</li>
 *   <li>{@link Broadcast}: y = a ∘ p' elementwise with p' broadcast (add, sub, mul): the rows are δ (times a for
 *       mul, negated for the right operand of sub) summed over the broadcast axes — biases, norm scales.</li>
 * </ul>
 * A primitive without a rule (the default) sends its parameters to the dense fallback: per-example rows from
 * its own parameter-VJP, one example at a time.
 */
public interface ConsumerRule {
    /**
     * A consumer linear in p' with a block-diagonal Jacobian, J[o, n] = Σ_r A[n, r, ·] ⊗ D[o, n, r, ·]: the data
     * factor A [N, R, C] comes from the data operand, the cotangent factor D [O, N, R, F] from the stacked
     * cotangent of y, and p' flattens {@link #dataAxes()} into C and {@link #featureAxes()} into F.
     */
    abstract class Linear implements ConsumerRule {
        private final int[] dataAxes;
        private final int[] featureAxes;
        private final int positions;
        private final int fanIn;
        private final int features;

        /**
         * The rule's dimensions.
         *
         * @param dataAxes the axes of p' flattened, in this order, into the fan-in C (copied)
         * @param featureAxes the axes of p' flattened, in this order, into the features F (copied)
         * @param positions R, the positions per example that share p' (1 for a dense layer, pixels for conv)
         * @param fanIn C
         * @param features F
         */
        protected Linear(int[] dataAxes, int[] featureAxes, int positions, int fanIn, int features) {
            this.dataAxes = dataAxes.clone();
            this.featureAxes = featureAxes.clone();
            this.positions = positions;
            this.fanIn = fanIn;
            this.features = features;
        }

        /**
         * The axes of p' that the fan-in C flattens.
         *
         * @return a copy of the axes, in flattening order
         */
        public int[] dataAxes() {
            return dataAxes.clone();
        }

        /**
         * The axes of p' that the features F flatten.
         *
         * @return a copy of the axes, in flattening order
         */
        public int[] featureAxes() {
            return featureAxes.clone();
        }

        /**
         * R, the positions of one example that share p'.
         *
         * @return R, at least 1
         */
        public int positions() {
            return positions;
        }

        /**
         * C, the fan-in (size of the data axes of p').
         *
         * @return C
         */
        public int fanIn() {
            return fanIn;
        }

        /**
         * F, the output features (size of the feature axes of p').
         *
         * @return F
         */
        public int features() {
            return features;
        }

        /**
         * True when p' is laid out [data axes..., feature axes...] (e.g. W [in, out] of x·W, an HWIO filter),
         * so that a per-example row A[n]ᵀ·D[o, n] (C × F) is p' itself in its own layout.
         *
         * @return whether the data axes then the feature axes are 0, 1, ..., rank - 1
         */
        public boolean rowMajor() {
            int[] order = Shapes.concat(dataAxes, featureAxes);
            for (int i = 0; i < order.length; i++) {
                if (order[i] != i) {
                    return false;
                }
            }
            return true;
        }

        /**
         * Whether {@link #cotangent} is the stacked cotangent of y only reshaped, [K, N, R, F] with F the product
         * of y's trailing axes and R of those between the example axis and them (no axes moved): then a bias added
         * to y along its trailing F has the rows Σ_r D[k, n, r, ·], and structured derivatives contract it with
         * the same cotangent Gram as p' (see {@code StructuredDerivatives.sharedBiasFactor}). False unless the
         * primitive says so.
         *
         * @return true when D is a reshape of y's stacked cotangent
         */
        public boolean cotangentIsReshape() {
            return false;
        }

        /**
         * The data factor A [N, R, C] from the value of the data operand (e.g. the im2col patches of a conv
         * input). The caller closes the result.
         *
         * @param data the data operand's value [N, ...]; read, not closed
         * @return a new tensor [N, R, C]
         */
        public abstract Tensor data(Tensor data);

        /**
         * The data factor with one more column holding {@code extra} at every position, A' [N, R, C + 1]: rows
         * formed with it carry Σ_r D[o, n, r, ·]·extra in their last column (structured derivatives join a bias
         * added to y this way). By default {@link #data(Tensor)} copied into the wider rows; a rule that forms A
         * itself may write it so at once.
         *
         * @param data the data operand's value [N, ...]; read, not closed
         * @param extra the value of the last column
         * @return a new tensor [N, R, C + 1]
         */
        public Tensor data(Tensor data, double extra) {
            try (Tensor a = data(data); Tensor column = Tensor.full(a.dtype(), extra, 1)) {
                int rows = a.dim(0) * a.dim(1);
                int c = a.dim(2);
                Tensor wide = Tensor.empty(a.dtype(), a.dim(0), a.dim(1), c + 1);
                org.ntk4j.cpu.Layout.stridedCopy(a, 0, new int[] {c, 1}, wide, 0, new int[] {c + 1, 1},
                        new int[] {rows, c});
                // the one value repeated down the last column (source stride 0)
                org.ntk4j.cpu.Layout.stridedCopy(column, 0, new int[] {0}, wide, c, new int[] {c + 1},
                        new int[] {rows});
                return wide;
            }
        }

        /**
         * The cotangent factor D [K, N, R, F] from the stacked cotangent of y. The caller closes the result and
         * only reads it: where D is y's cotangent reshaped ({@link #cotangentIsReshape()}) it is a read view of
         * {@code cotangent} ({@link Tensor#readView(int...)}), valid while that is open.
         *
         * @param cotangent the stacked cotangent [K] + shape(y), y's example axis at 1; read, not closed
         * @return a tensor [K, N, R, F]: new, or a read view of {@code cotangent}
         */
        public abstract Tensor cotangent(Tensor cotangent);

        /**
         * {@link #cotangent} of a rule whose D is y's stacked cotangent only reshaped ({@link #cotangentIsReshape()}):
         * a read view [K, N, R, F] of it, valid while it is open (closing the view frees nothing).
         *
         * @param cotangent the stacked cotangent [K] + shape(y), y's example axis at 1; read, not closed
         * @return a read view of {@code cotangent} as [K, N, R, F]
         */
        protected final Tensor cotangentInPlace(Tensor cotangent) {
            return cotangent.readView(cotangent.dim(0), cotangent.dim(1), positions, features);
        }

        /**
         * Whether {@link #dataGram} computes the data Gram from the data operand without forming A (e.g. id
         * equality for an embedding lookup, whose A is a one-hot). False by default: structured derivatives then
         * form A by {@link #data(Tensor)} and take its Gram by a GEMM over C.
         *
         * @return true when {@link #dataGram} is overridden to read the data operand itself
         */
        public boolean dataGramWithoutData() {
            return false;
        }

        /**
         * The data Gram GA[n1, r1, n2, r2] = Σ_c A1[n1, r1, c] A2[n2, r2, c] ([N1, R, N2, R]), or per example
         * GA[n, r1, r2] = Σ_c A[n, r1, c] A[n, r2, c] ([N, R, R]; the two operands then have the same examples),
         * from the two data operands' values. By default A of each side by {@link #data(Tensor)} and their
         * product over C.
         *
         * @param data1 side 1's data operand [N1, ...]; read, not closed
         * @param data2 side 2's data operand [N2, ...] (the same tensor for a side with itself); read, not closed
         * @param perExample whether only each example's Gram with itself is wanted
         * @return a new tensor [N1, R, N2, R], or [N1, R, R] per example
         */
        public Tensor dataGram(Tensor data1, Tensor data2, boolean perExample) {
            try (Tensor a1 = data(data1); Tensor a2 = data2 == data1 ? null : data(data2)) {
                return productGram(a1, a2 == null ? a1 : a2, perExample);
            }
        }

        /**
         * A1·A2ᵀ over C, [N1, R, N2, R], or batched over the examples, [N, R, R]: the product of the two factors
         * (also when they are one tensor; {@link #selfGram} forms the Gram of a factor with itself).
         *
         * @param a1 side 1's data factor [N1, R, C]; read, not closed
         * @param a2 side 2's data factor [N2, R, C]; read, not closed
         * @param perExample whether to batch over the examples (then N1 = N2)
         * @return a new tensor [N1, R, N2, R], or [N1, R, R] per example
         */
        public static Tensor productGram(Tensor a1, Tensor a2, boolean perExample) {
            int[] batch = perExample ? new int[] {0} : new int[0];
            return org.ntk4j.cpu.DotGeneralKernel.dot(a1, a2, new int[] {2}, new int[] {2}, batch, batch);
        }

        /**
         * A·Aᵀ over C, [N, R, N, R], or batched over the examples, [N, R, R]: the Gram of a factor with itself
         * ({@link org.ntk4j.cpu.DotGeneralKernel#gram}: exactly symmetric, a symmetric product of about half the
         * multiply-adds of {@link #productGram}'s where it applies).
         *
         * @param a the data factor [N, R, C]; read, not closed
         * @param perExample whether to batch over the examples
         * @return a new tensor [N, R, N, R], or [N, R, R] per example
         */
        public static Tensor selfGram(Tensor a, boolean perExample) {
            int[] batch = perExample ? new int[] {0} : new int[0];
            return org.ntk4j.cpu.DotGeneralKernel.gram(a, new int[] {2}, batch);
        }

        /**
         * FLOPs of {@link #dataGram} where {@link #dataGramWithoutData} holds (what structured derivatives count
         * for it in place of the GEMM over C); 2·N1·R·N2·R·C (2·N·R²·C per example) by default.
         *
         * @param n1 the examples of side 1
         * @param n2 the examples of side 2
         * @param perExample whether only each example's Gram with itself is formed
         * @return the FLOPs
         */
        public double dataGramFlops(long n1, long n2, boolean perExample) {
            double r = positions;
            return 2.0 * n1 * r * (perExample ? 1 : n2) * r * fanIn;
        }

        /**
         * Whether the data factor is a one-hot: each row A[n, r, ·] the unit vector at the column that {@link
         * #oneHotColumns} names (a row of NaN where it names none), e.g. an embedding table read at token ids.
         * False by default. Structured derivatives' factored order then never forms A nor P[n, f, c] = Σ_r M[n, r,
         * f] A[n, r, c] over all C columns: P is nonzero at an example's distinct columns only (at most R), and
         * Q = Σ_c P1 P2 pairs the examples' equal columns.
         *
         * @return true when {@link #oneHotColumns} names the one of every row of A
         */
        public boolean oneHotData() {
            return false;
        }

        /**
         * Where {@link #oneHotData} holds, the column of the one in each row of A [N, R, C] ([N·R], row-major),
         * −1 for a row of NaN (an id out of range). By default A by {@link #data(Tensor)}, each row's column of its
         * 1; a rule that knows its columns (the ids) reads them without forming A.
         *
         * @param data the data operand's value [N, ...]; read, not closed
         * @return a new array of N·R columns in [0, C), or −1
         * @throws IllegalStateException if a row of A is neither a unit vector nor all NaN
         */
        public int[] oneHotColumns(Tensor data) {
            try (Tensor a = data(data)) {
                int c = a.dim(2);
                int[] columns = new int[a.dim(0) * a.dim(1)];
                for (int i = 0; i < columns.length; i++) {
                    int one = -1;
                    int nan = 0;
                    for (int j = 0; j < c; j++) {
                        double x = a.getFlat(i * c + j);
                        if (Double.isNaN(x)) {
                            nan++;
                        } else if (x == 1 && one == -1) {
                            one = j;
                        } else if (x != 0) {
                            one = -2;
                        }
                    }
                    if (nan == c) {
                        columns[i] = -1;
                    } else if (nan > 0 || one < 0) {
                        throw new IllegalStateException("oneHotColumns: row " + i + " of the data factor is not a"
                                + " unit vector");
                    } else {
                        columns[i] = one;
                    }
                }
                return columns;
            }
        }

        /**
         * Whether {@link #rows(Tensor, Tensor)} forms the per-example rows from the data operand without forming
         * A. False by default: structured derivatives' row order then forms A and multiplies (the factored order
         * reads {@link #oneHotData} instead).
         *
         * @return true when {@link #rows(Tensor, Tensor)} is overridden to read the data operand itself
         */
        public boolean rowsWithoutData() {
            return false;
        }

        /**
         * The per-example rows J[n, o, f, c] = Σ_r A[n, r, c] D[o, n, r, f] ([N, O, F, C]) from the data operand's
         * value and the cotangent factor. By default A by {@link #data(Tensor)} and one product over r.
         *
         * @param data the data operand's value [N, ...]; read, not closed
         * @param d the cotangent factor D [O, N, R, F]; read, not closed
         * @return a new tensor [N, O, F, C]
         */
        public Tensor rows(Tensor data, Tensor d) {
            try (Tensor a = data(data)) {
                return productRows(a, d);
            }
        }

        /**
         * The layout of {@link #productRows}: dot_general's [N, C, O, F] (batch n, A's c, D's o and f) written as
         * [N, O, F, C], so that (O, F) is one axis of stride C in J: one GEMM per example forms all O·F rows, J[n] =
         * Dᵀ·A[n] over r, from D copied to [N, R, O, F] (dot_general's planner makes the copy), where [N, O, C, F]
         * took a GEMM of F columns per example and output. Measured on the small cnn's conv layers (N = 16, O = 10,
         * R = 256, C = 288, F = 32; float32, 2-core Zen 5): the 160 GEMMs of 288×32×256 at 122 GFLOP/s, the 16 of
         * 320×288×256 at 198. The contraction over (F, C) is the same sum in another order.
         */
        private static final int[] ROWS_LAYOUT = {0, 2, 3, 1};

        /**
         * The layout of {@link #productRows}'s result as an output permutation of dot_general's [N, C, O, F].
         *
         * @return a copy of the permutation {0, 2, 3, 1}
         */
        public static int[] rowsLayout() {
            return ROWS_LAYOUT.clone();
        }

        /**
         * J[n, o, f, c] = Σ_r A[n, r, c] D[o, n, r, f] ([N, O, F, C], {@link #ROWS_LAYOUT}).
         *
         * @param a the data factor [N, R, C]; read, not closed
         * @param d the cotangent factor [O, N, R, F]; read, not closed
         * @return a new tensor [N, O, F, C]
         */
        public static Tensor productRows(Tensor a, Tensor d) {
            return org.ntk4j.cpu.DotGeneralKernel.dot(a, d, new int[] {1}, new int[] {2}, new int[] {0},
                    new int[] {1}, ROWS_LAYOUT);
        }

        /**
         * FLOPs of {@link #rows(Tensor, Tensor)} for one side where {@link #rowsWithoutData} holds;
         * 2·N·O·R·C·F by default.
         *
         * @param n the examples
         * @param o the stacked cotangents
         * @return the FLOPs
         */
        public double rowsFlops(long n, long o) {
            return 2.0 * n * o * positions * fanIn * features;
        }
    }

    /**
     * An elementwise consumer y = a ∘ p' (∘ one of +, -, ·) with p' broadcast to y: ∂y_n/∂p' is the identity times
     * {@link #sign()} (times a_n for {@link #timesOther()}), summed over the {@link #broadcastAxes()} of y.
     */
    final class Broadcast implements ConsumerRule {
        private final int[] broadcastAxes;
        private final double sign;
        private final boolean timesOther;

        /**
         * The rule.
         *
         * @param broadcastAxes the axes of y (never the example axis 0) over which p' is broadcast (copied)
         * @param sign the scale of ∂y/∂p' (-1 for the right operand of a sub, else 1)
         * @param timesOther whether ∂y/∂p' is the other operand (mul) rather than a constant
         */
        public Broadcast(int[] broadcastAxes, double sign, boolean timesOther) {
            this.broadcastAxes = broadcastAxes.clone();
            this.sign = sign;
            this.timesOther = timesOther;
        }

        /**
         * The rule for add, sub or mul of NumPy-broadcast operands, or null when p' is broadcast over the
         * example axis or the data operand has another rank than y without being a constant (cases the rows
         * of this rule do not cover).
         *
         * @param inputs the two operand types
         * @param output the result type
         * @param operand the index of p'
         * @param constants per operand, its value when it is a graph constant, else null
         * @param sign the scale of ∂y/∂p'
         * @param timesOther whether ∂y/∂p' is the other operand
         * @return the rule, or null
         */
        public static Broadcast of(TensorType[] inputs, TensorType output, int operand, Tensor[] constants,
                                   double sign, boolean timesOther) {
            TensorType other = inputs[1 - operand];
            if (other.rank() != output.rank() && constants[1 - operand] == null) {
                return null;
            }
            int[] ps = inputs[operand].shape();
            int[] ys = output.shape();
            if (ys.length == 0) {
                return null;
            }
            int[] summed = new int[ys.length];
            int count = 0;
            long kept = ys[0];
            int lead = ys.length - ps.length;
            for (int a = 1; a < ys.length; a++) {
                int j = a - lead;
                if (j < 0 || (ps[j] == 1 && ys[a] != 1)) {
                    summed[count++] = a;
                } else {
                    kept *= ys[a];
                }
            }
            if (kept != (long) ys[0] * Shapes.size(ps)) {
                return null;
            }
            return new Broadcast(java.util.Arrays.copyOf(summed, count), sign, timesOther);
        }

        /**
         * The axes of y over which p' is broadcast (summed to give the rows).
         *
         * @return a copy of the axes, ascending, never 0
         */
        public int[] broadcastAxes() {
            return broadcastAxes.clone();
        }

        /**
         * The constant scale of ∂y/∂p'.
         *
         * @return -1 for the right operand of a sub, 1 otherwise
         */
        public double sign() {
            return sign;
        }

        /**
         * Whether ∂y/∂p' is the other operand (mul).
         *
         * @return true for mul
         */
        public boolean timesOther() {
            return timesOther;
        }

        /**
         * FLOPs of forming the rows from K stacked cotangents of y: one per element of δ [K] + shape(y) for the
         * product with the other operand or the sign, and one per element summed when p' is broadcast.
         *
         * @param k the number of stacked cotangents
         * @param output y's type
         * @return the FLOPs
         */
        public double rowFlops(long k, TensorType output) {
            double delta = (double) k * output.size();
            return (timesOther || sign != 1 ? delta : 0) + (broadcastAxes.length > 0 ? delta : 0);
        }
    }
}

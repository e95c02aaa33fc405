package org.ntk4j.cpu;

import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.util.function.DoubleUnaryOperator;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/** Elementwise kernels: unary maps and binary operations with NumPy broadcasting, split across cores. */
public final class Elementwise {
    private Elementwise() {
    }

    /** The binary operations the kernels know; the choice is made once per row, not per element. */
    public enum BinaryOp {
        /** a + b. */
        ADD,
        /** a - b. */
        SUB,
        /** a · b. */
        MUL,
        /** a / b (IEEE: division by zero gives an infinity or NaN). */
        DIV,
        /** The larger of a and b ({@link Math#max(double, double)}: NaN if either is NaN). */
        MAX,
        /** The smaller of a and b ({@link Math#min(double, double)}: NaN if either is NaN). */
        MIN,
        /** 1 where a == b, else 0. */
        EQ,
        /** 1 where a &gt; b, else 0. */
        GT,
        /** a raised to the power b. */
        POW
    }

    /** A function applied in place to the first {@code n} elements of a float32 segment. */
    @FunctionalInterface
    public interface FloatSegment {
        /**
         * Replaces x[i] by f(x[i]) for i &lt; n.
         *
         * @param x the segment, overwritten
         * @param n how many of its elements are in use
         */
        void apply(float[] x, int n);
    }

    /** A function applied in place to the first {@code n} elements of a float64 segment. */
    @FunctionalInterface
    public interface DoubleSegment {
        /**
         * Replaces x[i] by f(x[i]) for i &lt; n.
         *
         * @param x the segment, overwritten
         * @param n how many of its elements are in use
         */
        void apply(double[] x, int n);
    }

    /**
     * out = f(x) through segments of heap arrays (bulk copies in and out, at most {@value #HEAP_ROW_MAX}
     * elements), split across cores: one call of {@code f32} or {@code f64} per segment, not of a scalar function
     * per element. The caller's segment functions are plain loops the JIT compiles for that function alone, where
     * {@link #map}'s loop, shared by every function, makes a virtual call per element.
     *
     * @param x the operand; not closed
     * @param f32 f over a float32 segment, called concurrently from several threads
     * @param f64 f over a float64 segment, called concurrently from several threads
     * @return a new tensor of {@code x}'s dtype and shape, owned by the caller
     */
    public static Tensor mapSegments(Tensor x, FloatSegment f32, DoubleSegment f64) {
        Tensor out = Tensor.empty(x.dtype(), x.shape());
        int n = x.size();
        if (x.dtype() == DType.F32) {
            FloatBuffer in = x.floats();
            FloatBuffer o = out.floats();
            Parallel.rangeBalanced(n, Parallel.DEFAULT_GRAIN / 8, (lo, hi) -> {
                float[] row = FLOAT_ROWS.get()[0];
                for (int s = lo; s < hi; s += HEAP_ROW_MAX) {
                    int len = Math.min(HEAP_ROW_MAX, hi - s);
                    in.get(s, row, 0, len);
                    f32.apply(row, len);
                    o.put(s, row, 0, len);
                }
            });
        } else {
            DoubleBuffer in = x.doubles();
            DoubleBuffer o = out.doubles();
            Parallel.rangeBalanced(n, Parallel.DEFAULT_GRAIN / 8, (lo, hi) -> {
                double[] row = DOUBLE_ROWS.get()[0];
                for (int s = lo; s < hi; s += HEAP_ROW_MAX) {
                    int len = Math.min(HEAP_ROW_MAX, hi - s);
                    in.get(s, row, 0, len);
                    f64.apply(row, len);
                    o.put(s, row, 0, len);
                }
            });
        }
        return out;
    }

    /**
     * out[i] = f(x[i]), computed in double and rounded to the tensor's dtype, split across cores.
     *
     * @param x the operand; not closed
     * @param f the function, called concurrently from several threads
     * @return a new tensor of {@code x}'s dtype and shape, owned by the caller
     */
    public static Tensor map(Tensor x, DoubleUnaryOperator f) {
        return mapSegments(x, (v, n) -> {
            for (int i = 0; i < n; i++) {
                v[i] = (float) f.applyAsDouble(v[i]);
            }
        }, (v, n) -> {
            for (int i = 0; i < n; i++) {
                v[i] = f.applyAsDouble(v[i]);
            }
        });
    }

    /**
     * acc[i] += alpha · x[i], in place, in the tensors' dtype (float32: alpha rounded to float first), for
     * tensors of the same dtype and size. Every element is computed the same way wherever it lies, so a block
     * of a larger accumulation gets the same bits as the whole.
     *
     * @param acc the accumulator, overwritten
     * @param alpha the scale of {@code x}
     * @param x the addend, of {@code acc}'s dtype and size (its shape may differ); not changed
     * @throws IllegalArgumentException when the dtypes or sizes differ
     */
    public static void addScaledInPlace(Tensor acc, double alpha, Tensor x) {
        if (acc.dtype() != x.dtype() || acc.size() != x.size()) {
            throw new IllegalArgumentException("addScaledInPlace: acc is " + acc.dtype().shortName()
                    + java.util.Arrays.toString(acc.shape()) + ", x is " + x.dtype().shortName()
                    + java.util.Arrays.toString(x.shape()) + "; both need the same dtype and size");
        }
        if (acc.dtype() == DType.F32) {
            FloatBuffer a = acc.floats();
            FloatBuffer b = x.floats();
            float c = (float) alpha;
            Parallel.rangeBalanced(acc.size(), Parallel.DEFAULT_GRAIN, (lo, hi) -> {
                for (int i = lo; i < hi; i++) {
                    a.put(i, a.get(i) + c * b.get(i));
                }
            });
        } else {
            DoubleBuffer a = acc.doubles();
            DoubleBuffer b = x.doubles();
            Parallel.rangeBalanced(acc.size(), Parallel.DEFAULT_GRAIN, (lo, hi) -> {
                for (int i = lo; i < hi; i++) {
                    a.put(i, a.get(i) + alpha * b.get(i));
                }
            });
        }
    }

    /**
     * t[i] *= c, in place, in the tensor's dtype (float32: c rounded to float first).
     *
     * @param t the tensor, overwritten
     * @param c the factor
     */
    public static void scaleInPlace(Tensor t, double c) {
        if (t.dtype() == DType.F32) {
            FloatBuffer a = t.floats();
            float cf = (float) c;
            Parallel.rangeBalanced(t.size(), Parallel.DEFAULT_GRAIN, (lo, hi) -> {
                for (int i = lo; i < hi; i++) {
                    a.put(i, a.get(i) * cf);
                }
            });
        } else {
            DoubleBuffer a = t.doubles();
            Parallel.rangeBalanced(t.size(), Parallel.DEFAULT_GRAIN, (lo, hi) -> {
                for (int i = lo; i < hi; i++) {
                    a.put(i, a.get(i) * c);
                }
            });
        }
    }

    /**
     * out = a op b with NumPy broadcasting. Both operands must have the same dtype. ADD, SUB, MUL and DIV compute
     * in the dtype; the other operations compute in double and round to it.
     *
     * @param op the operation
     * @param a the left operand; not closed
     * @param b the right operand, of {@code a}'s dtype; not closed
     * @return a new tensor of the broadcast shape, owned by the caller
     * @throws IllegalArgumentException when the dtypes differ or the shapes do not broadcast
     */
    public static Tensor binary(BinaryOp op, Tensor a, Tensor b) {
        if (a.dtype() != b.dtype()) {
            throw new IllegalArgumentException(op.name().toLowerCase(java.util.Locale.ROOT) + ": dtypes "
                    + a.dtype().shortName() + " and " + b.dtype().shortName() + " differ");
        }
        int[] shape = Shapes.broadcast(op.name().toLowerCase(java.util.Locale.ROOT), a.shape(), b.shape());
        Tensor out = Tensor.empty(a.dtype(), shape);
        int total = out.size();
        if (total == 0) {
            return out;
        }
        int rank = shape.length;
        int[] as = Shapes.broadcastStrides(a.shape(), shape);
        int[] bs = Shapes.broadcastStrides(b.shape(), shape);
        // Collapse to rows (or one flat row when nothing broadcasts): a row is the longest run of trailing axes
        // over which each operand is either contiguous (its strides those of the result) or one broadcast value
        // (strides 0), e.g. a stack of cotangents [K, N, H, W, C] times a mask [N, H, W, C] is K rows of N·H·W·C.
        boolean flat = a.size() == total && b.size() == total;
        int walked = flat ? 0 : Math.max(0, rank - 1);
        if (!flat && rank > 0) {
            int[] cs = Shapes.strides(shape);
            while (walked > 0 && uniformSuffix(as, cs, shape, walked - 1)
                    && uniformSuffix(bs, cs, shape, walked - 1)) {
                walked--;
            }
        }
        int lead = walked; // the axes the row loop walks: [0, lead)
        int inner = flat ? total : Shapes.size(java.util.Arrays.copyOfRange(shape, lead, rank));
        int rows = total / inner;
        int aInner = flat ? 1 : (rank == 0 || as[rank - 1] == 0 ? 0 : 1);
        int bInner = flat ? 1 : (rank == 0 || bs[rank - 1] == 0 ? 0 : 1);
        boolean f32 = a.dtype() == DType.F32;
        if (rows == 1) { // one row (the same shapes, or a scalar against a whole tensor): the cores split its positions
            Parallel.rangeBalanced(inner, Parallel.DEFAULT_GRAIN, (lo, hi) -> {
                if (f32) {
                    row(op, a.floats(), lo * aInner, aInner, b.floats(), lo * bInner, bInner, out.floats(), lo,
                            hi - lo);
                } else {
                    row(op, a.doubles(), lo * aInner, aInner, b.doubles(), lo * bInner, bInner, out.doubles(), lo,
                            hi - lo);
                }
            });
            return out;
        }
        // One operand repeats one row over a block of consecutive rows while the other runs contiguously through
        // the block (a per-channel scale or bias [C] against [K, N, H, W, C]; a stacked tangent [K, 1, 1, 1, C] of
        // a per-channel parameter against [N, H, W, C]): flat segments of whole rows against the row tiled once per
        // block, so rows of a few channels cost what a flat loop does (C = 16 went row by row at a fifth of that)
        if (inner <= HEAP_ROW_MAX / 4 && aInner == 1 && bInner == 1) {
            int[] cs = Shapes.strides(shape);
            int bMid = repeatStart(bs, as, cs, shape, lead);
            int aMid = bMid < lead ? lead : repeatStart(as, bs, cs, shape, lead);
            if (bMid < lead || aMid < lead) {
                boolean aRepeats = bMid == lead;
                repeatedRows(op, a, b, out, aRepeats, aRepeats ? as : bs, aRepeats ? bs : as, shape,
                        aRepeats ? aMid : bMid, lead, inner);
                return out;
            }
        }
        // One operand is one long row for all rows (a mask [N, H, W, C] against a stack of cotangents [K, N, H, W,
        // C]): the cores split the row's positions, and each segment of the repeated row is read into the heap once
        // for all K rows instead of once per row (three copies per element become two)
        if (inner > HEAP_ROW_MAX / 4 && aInner == 1 && bInner == 1 && rows > 1
                && (a.size() == inner && b.size() == total || b.size() == inner && a.size() == total)) {
            repeatedLongRow(op, a, b, out, a.size() == inner, rows, inner);
            return out;
        }
        // the buffers once per chunk, not per row: a tensor's accessor writes a flag, which two threads writing the
        // same tensors' per row would contend for
        FloatBuffer af = f32 ? a.floats() : null;
        FloatBuffer bf = f32 ? b.floats() : null;
        FloatBuffer of = f32 ? out.floats() : null;
        DoubleBuffer ad = f32 ? null : a.doubles();
        DoubleBuffer bd = f32 ? null : b.doubles();
        DoubleBuffer od = f32 ? null : out.doubles();
        Parallel.rangeBalanced(rows, Math.max(1, Parallel.DEFAULT_GRAIN / inner), (lo, hi) -> {
            int[] idx = new int[lead];
            int r = lo;
            for (int ax = lead - 1; ax >= 0; ax--) {
                idx[ax] = r % shape[ax];
                r /= shape[ax];
            }
            int ao = 0;
            int bo = 0;
            for (int ax = 0; ax < lead; ax++) {
                ao += idx[ax] * as[ax];
                bo += idx[ax] * bs[ax];
            }
            for (int row = lo; row < hi; row++) {
                if (f32) {
                    row(op, af, ao, aInner, bf, bo, bInner, of, row * inner, inner);
                } else {
                    row(op, ad, ao, aInner, bd, bo, bInner, od, row * inner, inner);
                }
                for (int ax = lead - 1; ax >= 0; ax--) {
                    idx[ax]++;
                    ao += as[ax];
                    bo += bs[ax];
                    if (idx[ax] < shape[ax]) {
                        break;
                    }
                    ao -= idx[ax] * as[ax];
                    bo -= idx[ax] * bs[ax];
                    idx[ax] = 0;
                }
            }
        });
        return out;
    }

    /**
     * The first of the row axes [mid, lead) over which operand {@code r} repeats its row (stride 0, or an axis of
     * size 1) while {@code f} runs contiguously (the result's strides); {@code lead} when the last row axis is not
     * such an axis.
     */
    private static int repeatStart(int[] r, int[] f, int[] cs, int[] shape, int lead) {
        int mid = lead;
        while (mid > 0 && (shape[mid - 1] == 1 || (r[mid - 1] == 0 && f[mid - 1] == cs[mid - 1]))) {
            mid--;
        }
        return Shapes.size(shape, mid, lead) >= 2 ? mid : lead; // at least two rows per block, or nothing repeats
    }

    /**
     * The buffers of a binary operation whose one operand repeats: r the repeating operand's, f the other's, o the
     * output's, float32 or float64 (the other dtype's null); read once per call, not per row.
     */
    private record Operands(FloatBuffer rf, FloatBuffer ff, FloatBuffer of, DoubleBuffer rd, DoubleBuffer fd,
                            DoubleBuffer od) {
        static Operands of(Tensor a, Tensor b, Tensor out, boolean aRepeats) {
            Tensor r = aRepeats ? a : b;
            Tensor f = aRepeats ? b : a;
            return a.dtype() == DType.F32 ? new Operands(r.floats(), f.floats(), out.floats(), null, null, null)
                    : new Operands(null, null, null, r.doubles(), f.doubles(), out.doubles());
        }
    }

    /**
     * out = a op b where one operand ({@code a} when {@code aRepeats}, strides {@code rs}) holds one row of
     * {@code inner} elements for each block of rows (the row axes [mid, lead)) and the other (strides {@code fs})
     * is contiguous through each block: segments of whole rows of a block go through the heap arrays against the
     * block's row tiled. Each element is computed as the row loops compute it.
     */
    private static void repeatedRows(BinaryOp op, Tensor a, Tensor b, Tensor out, boolean aRepeats, int[] rs,
                                     int[] fs, int[] shape, int mid, int lead, int inner) {
        int perBlock = Shapes.size(shape, mid, lead); // rows per block
        int segRows = Math.min(HEAP_ROW_MAX / inner, perBlock); // whole rows: segments start at a row's start
        int rows = out.size() / inner;
        boolean f32 = a.dtype() == DType.F32;
        Operands ops = Operands.of(a, b, out, aRepeats);
        Parallel.rangeBalanced(rows, Math.max(1, Parallel.DEFAULT_GRAIN / inner), (lo, hi) -> {
            float[][] fsc = f32 ? FLOAT_ROWS.get() : null;
            double[][] dsc = f32 ? null : DOUBLE_ROWS.get();
            int tiledBlock = -1;
            for (int r = lo; r < hi; ) {
                int block = r / perBlock;
                int end = Math.min(hi, Math.min((block + 1) * perBlock, r + segRows));
                int n = (end - r) * inner;
                // the block's offsets in each operand: its index over the outer axes [0, mid)
                int rOff = 0;
                int fOff = (r - block * perBlock) * inner;
                for (int ax = mid - 1, q = block; ax >= 0; ax--) {
                    int i = q % shape[ax];
                    q /= shape[ax];
                    rOff += i * rs[ax];
                    fOff += i * fs[ax];
                }
                if (f32) {
                    float[] tiled = aRepeats ? fsc[0] : fsc[1];
                    if (block != tiledBlock) {
                        ops.rf().get(rOff, tiled, 0, inner);
                        tile(tiled, inner, segRows * inner);
                        tiledBlock = block;
                    }
                    ops.ff().get(fOff, aRepeats ? fsc[1] : fsc[0], 0, n);
                    arrays(op, fsc[0], fsc[1], fsc[2], n);
                    ops.of().put(r * inner, fsc[2], 0, n);
                } else {
                    double[] tiled = aRepeats ? dsc[0] : dsc[1];
                    if (block != tiledBlock) {
                        ops.rd().get(rOff, tiled, 0, inner);
                        tile(tiled, inner, segRows * inner);
                        tiledBlock = block;
                    }
                    ops.fd().get(fOff, aRepeats ? dsc[1] : dsc[0], 0, n);
                    arrays(op, dsc[0], dsc[1], dsc[2], n);
                    ops.od().put(r * inner, dsc[2], 0, n);
                }
                r = end;
            }
        });
    }

    /**
     * Repeats the first {@code row} elements of {@code a} (an array) through its first {@code total} elements
     * ({@code total} a multiple of {@code row}) by doubling copies: log₂(total/row) of them, not total/row (a
     * channel row of 32 repeated 128 times per block of positions: 127 copies each time the block changed, which
     * the first calls of a fresh JVM, before the copies are compiled inline, paid dearly).
     */
    private static void tile(Object a, int row, int total) {
        for (int done = row; done < total; done *= 2) {
            System.arraycopy(a, 0, a, done, Math.min(done, total - done));
        }
    }

    /**
     * out = a op b where one operand ({@code a} when {@code aRepeats}) is one row of {@code inner} elements and the
     * other {@code rows} such rows: the positions are split across the cores, and per segment of at most
     * {@link #HEAP_ROW_MAX} positions the repeated row is read once, then each row of the other operand. Each
     * element is computed as the row loops compute it.
     */
    private static void repeatedLongRow(BinaryOp op, Tensor a, Tensor b, Tensor out, boolean aRepeats, int rows,
                                        int inner) {
        boolean f32 = a.dtype() == DType.F32;
        Operands ops = Operands.of(a, b, out, aRepeats);
        Parallel.rangeBalanced(inner, Math.max(1, Parallel.DEFAULT_GRAIN / rows), (lo, hi) -> {
            float[][] fsc = f32 ? FLOAT_ROWS.get() : null;
            double[][] dsc = f32 ? null : DOUBLE_ROWS.get();
            for (int s = lo; s < hi; s += HEAP_ROW_MAX) {
                int n = Math.min(HEAP_ROW_MAX, hi - s);
                if (f32) {
                    ops.rf().get(s, aRepeats ? fsc[0] : fsc[1], 0, n);
                    for (int row = 0; row < rows; row++) {
                        ops.ff().get(row * inner + s, aRepeats ? fsc[1] : fsc[0], 0, n);
                        arrays(op, fsc[0], fsc[1], fsc[2], n);
                        ops.of().put(row * inner + s, fsc[2], 0, n);
                    }
                } else {
                    ops.rd().get(s, aRepeats ? dsc[0] : dsc[1], 0, n);
                    for (int row = 0; row < rows; row++) {
                        ops.fd().get(row * inner + s, aRepeats ? dsc[1] : dsc[0], 0, n);
                        arrays(op, dsc[0], dsc[1], dsc[2], n);
                        ops.od().put(row * inner + s, dsc[2], 0, n);
                    }
                }
            }
        });
    }

    /**
     * Whether an operand's broadcast strides over the axes [from, rank) are all those of the contiguous result
     * ({@code cs}) or all 0, with the axes after {@code from} already known to be one or the other.
     */
    private static boolean uniformSuffix(int[] strides, int[] cs, int[] shape, int from) {
        if (shape[from] == 1) {
            return true; // its index is always 0: any stride will do
        }
        boolean zero = strides[strides.length - 1] == 0;
        return zero ? strides[from] == 0 : strides[from] == cs[from];
    }

    private static void row(BinaryOp op, FloatBuffer a, int ao, int ast, FloatBuffer b, int bo, int bst,
                            FloatBuffer o, int oo, int n) {
        if (n >= HEAP_ROW_MIN && ast <= 1 && bst <= 1 && ast >= 0 && bst >= 0) {
            for (int s = 0; s < n; s += HEAP_ROW_MAX) {
                heapRow(op, a, ao + s * ast, ast, b, bo + s * bst, bst, o, oo + s, Math.min(HEAP_ROW_MAX, n - s));
            }
            return;
        }
        switch (op) {
            case ADD:
                for (int i = 0; i < n; i++) {
                    o.put(oo + i, a.get(ao + i * ast) + b.get(bo + i * bst));
                }
                break;
            case SUB:
                for (int i = 0; i < n; i++) {
                    o.put(oo + i, a.get(ao + i * ast) - b.get(bo + i * bst));
                }
                break;
            case MUL:
                for (int i = 0; i < n; i++) {
                    o.put(oo + i, a.get(ao + i * ast) * b.get(bo + i * bst));
                }
                break;
            case DIV:
                for (int i = 0; i < n; i++) {
                    o.put(oo + i, a.get(ao + i * ast) / b.get(bo + i * bst));
                }
                break;
            default:
                for (int i = 0; i < n; i++) {
                    o.put(oo + i, (float) apply(op, a.get(ao + i * ast), b.get(bo + i * bst)));
                }
        }
    }

    private static void row(BinaryOp op, DoubleBuffer a, int ao, int ast, DoubleBuffer b, int bo, int bst,
                            DoubleBuffer o, int oo, int n) {
        if (n >= HEAP_ROW_MIN && ast <= 1 && bst <= 1 && ast >= 0 && bst >= 0) {
            for (int s = 0; s < n; s += HEAP_ROW_MAX) {
                heapRow(op, a, ao + s * ast, ast, b, bo + s * bst, bst, o, oo + s, Math.min(HEAP_ROW_MAX, n - s));
            }
            return;
        }
        switch (op) {
            case ADD:
                for (int i = 0; i < n; i++) {
                    o.put(oo + i, a.get(ao + i * ast) + b.get(bo + i * bst));
                }
                break;
            case SUB:
                for (int i = 0; i < n; i++) {
                    o.put(oo + i, a.get(ao + i * ast) - b.get(bo + i * bst));
                }
                break;
            case MUL:
                for (int i = 0; i < n; i++) {
                    o.put(oo + i, a.get(ao + i * ast) * b.get(bo + i * bst));
                }
                break;
            case DIV:
                for (int i = 0; i < n; i++) {
                    o.put(oo + i, a.get(ao + i * ast) / b.get(bo + i * bst));
                }
                break;
            default:
                for (int i = 0; i < n; i++) {
                    o.put(oo + i, apply(op, a.get(ao + i * ast), b.get(bo + i * bst)));
                }
        }
    }

    /**
     * Rows at least this long whose operands are contiguous or broadcast scalars go through heap arrays: bulk
     * copies in and out and a plain array loop, which the JIT vectorises, where element-wise access to a direct
     * buffer costs a bounds and liveness check per element (about 3× slower).
     */
    private static final int HEAP_ROW_MIN = 32;
    /** Longer rows go through {@link #heapRow} in segments of this many elements (the scratch stays small). */
    private static final int HEAP_ROW_MAX = 4096;
    /** Per-thread scratch rows of {@link #heapRow}: {a, b, out} for each dtype. */
    private static final ThreadLocal<float[][]> FLOAT_ROWS = ThreadLocal.withInitial(() -> new float[3][HEAP_ROW_MAX]);
    private static final ThreadLocal<double[][]> DOUBLE_ROWS =
            ThreadLocal.withInitial(() -> new double[3][HEAP_ROW_MAX]);

    private static void heapRow(BinaryOp op, FloatBuffer a, int ao, int ast, FloatBuffer b, int bo, int bst,
                                FloatBuffer o, int oo, int n) {
        float[][] rows = FLOAT_ROWS.get(); // n ≤ HEAP_ROW_MAX
        float[] x = rows[0];
        float[] y = rows[1];
        float[] z = rows[2];
        if (ast == 1) {
            a.get(ao, x, 0, n);
        } else {
            java.util.Arrays.fill(x, 0, n, a.get(ao));
        }
        if (bst == 1) {
            b.get(bo, y, 0, n);
        } else {
            java.util.Arrays.fill(y, 0, n, b.get(bo));
        }
        arrays(op, x, y, z, n);
        o.put(oo, z, 0, n);
    }

    /**
     * o[oo, oo + n) = a[ao, ao + n) · b[bo, bo + n) through the heap rows, in segments of {@link #HEAP_ROW_MAX}:
     * each element exactly what {@link #binary} with MUL gives. {@code o} may be {@code a} or {@code b} at the same
     * offset (in place). No allocation after the thread's first call.
     */
    static void multiplyRun(FloatBuffer o, int oo, FloatBuffer a, int ao, FloatBuffer b, int bo, int n) {
        for (int s = 0; s < n; s += HEAP_ROW_MAX) {
            heapRow(BinaryOp.MUL, a, ao + s, 1, b, bo + s, 1, o, oo + s, Math.min(HEAP_ROW_MAX, n - s));
        }
    }

    /** {@link #multiplyRun(FloatBuffer, int, FloatBuffer, int, FloatBuffer, int, int)} in float64. */
    static void multiplyRun(DoubleBuffer o, int oo, DoubleBuffer a, int ao, DoubleBuffer b, int bo, int n) {
        for (int s = 0; s < n; s += HEAP_ROW_MAX) {
            heapRow(BinaryOp.MUL, a, ao + s, 1, b, bo + s, 1, o, oo + s, Math.min(HEAP_ROW_MAX, n - s));
        }
    }

    /** z[i] = x[i] op y[i] for i < n, over heap arrays (plain loops the JIT vectorises). */
    private static void arrays(BinaryOp op, float[] x, float[] y, float[] z, int n) {
        switch (op) {
            case ADD:
                for (int i = 0; i < n; i++) {
                    z[i] = x[i] + y[i];
                }
                break;
            case SUB:
                for (int i = 0; i < n; i++) {
                    z[i] = x[i] - y[i];
                }
                break;
            case MUL:
                for (int i = 0; i < n; i++) {
                    z[i] = x[i] * y[i];
                }
                break;
            case DIV:
                for (int i = 0; i < n; i++) {
                    z[i] = x[i] / y[i];
                }
                break;
            // ReLU and its derivative mask in their own loops (max and min vectorise, gt has no branch): in float32
            // exactly what apply gives (in float64, then rounded: a float converts exactly)
            case MAX:
                for (int i = 0; i < n; i++) {
                    z[i] = Math.max(x[i], y[i]);
                }
                break;
            case MIN:
                for (int i = 0; i < n; i++) {
                    z[i] = Math.min(x[i], y[i]);
                }
                break;
            case GT:
                // x > y without a branch (a ReLU mask is a coin toss per element: the branch mispredicted half of
                // the time): y - x rounds to a value of the exact difference's sign, and to zero only when
                // x == y (subnormals), so x > y exactly when y - x is below zero — negative, not -0, not NaN
                // (NaN operands, or ∞ - ∞ for x = y = ±∞)
                for (int i = 0; i < n; i++) {
                    z[i] = belowZero(Float.floatToRawIntBits(y[i] - x[i]));
                }
                break;
            case EQ:
                for (int i = 0; i < n; i++) {
                    z[i] = x[i] == y[i] ? 1f : 0f;
                }
                break;
            default:
                for (int i = 0; i < n; i++) {
                    z[i] = (float) apply(op, x[i], y[i]);
                }
        }
    }

    private static void heapRow(BinaryOp op, DoubleBuffer a, int ao, int ast, DoubleBuffer b, int bo, int bst,
                                DoubleBuffer o, int oo, int n) {
        double[][] rows = DOUBLE_ROWS.get(); // n ≤ HEAP_ROW_MAX
        double[] x = rows[0];
        double[] y = rows[1];
        double[] z = rows[2];
        if (ast == 1) {
            a.get(ao, x, 0, n);
        } else {
            java.util.Arrays.fill(x, 0, n, a.get(ao));
        }
        if (bst == 1) {
            b.get(bo, y, 0, n);
        } else {
            java.util.Arrays.fill(y, 0, n, b.get(bo));
        }
        arrays(op, x, y, z, n);
        o.put(oo, z, 0, n);
    }

    /** z[i] = x[i] op y[i] for i < n, over heap arrays (plain loops the JIT vectorises). */
    private static void arrays(BinaryOp op, double[] x, double[] y, double[] z, int n) {
        switch (op) {
            case ADD:
                for (int i = 0; i < n; i++) {
                    z[i] = x[i] + y[i];
                }
                break;
            case SUB:
                for (int i = 0; i < n; i++) {
                    z[i] = x[i] - y[i];
                }
                break;
            case MUL:
                for (int i = 0; i < n; i++) {
                    z[i] = x[i] * y[i];
                }
                break;
            case DIV:
                for (int i = 0; i < n; i++) {
                    z[i] = x[i] / y[i];
                }
                break;
            case MAX:
                for (int i = 0; i < n; i++) {
                    z[i] = Math.max(x[i], y[i]);
                }
                break;
            case MIN:
                for (int i = 0; i < n; i++) {
                    z[i] = Math.min(x[i], y[i]);
                }
                break;
            case GT:
                for (int i = 0; i < n; i++) {
                    z[i] = belowZero(Double.doubleToRawLongBits(y[i] - x[i]));
                }
                break;
            case EQ:
                for (int i = 0; i < n; i++) {
                    z[i] = x[i] == y[i] ? 1 : 0;
                }
                break;
            default:
                for (int i = 0; i < n; i++) {
                    z[i] = apply(op, x[i], y[i]);
                }
        }
    }

    /** 1 when the float32 with these bits is below zero (not -0, not NaN), else 0; no branch. */
    private static int belowZero(int bits) {
        int t = (bits & 0x7fffffff) - 1; // magnitude - 1: -1 for ±0, from 0x7f800000 on for NaN
        return (bits >>> 31) & ((t >>> 31) ^ 1) & ((t - 0x7f800000) >>> 31);
    }

    /** 1 when the float64 with these bits is below zero (not -0, not NaN), else 0; no branch. */
    private static int belowZero(long bits) {
        long t = (bits & 0x7fffffffffffffffL) - 1;
        return (int) ((bits >>> 63) & ((t >>> 63) ^ 1) & ((t - 0x7ff0000000000000L) >>> 63));
    }

    /**
     * The scalar definition of each operation (the reference the row loops follow).
     *
     * @param op the operation
     * @param x the left operand
     * @param y the right operand
     * @return {@code x op y}
     */
    public static double apply(BinaryOp op, double x, double y) {
        switch (op) {
            case ADD:
                return x + y;
            case SUB:
                return x - y;
            case MUL:
                return x * y;
            case DIV:
                return x / y;
            case MAX:
                return Math.max(x, y);
            case MIN:
                return Math.min(x, y);
            case EQ:
                return x == y ? 1 : 0;
            case GT:
                return x > y ? 1 : 0;
            case POW:
                return Math.pow(x, y);
            default:
                throw new AssertionError(op);
        }
    }
}

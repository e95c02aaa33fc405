package org.ntk4j.predict;

import org.bytedeco.javacpp.DoublePointer;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * A kernel on N examples as a square float64 matrix, off the Java heap and not limited to one tensor's 2^31-1
 * bytes (the full eNTK of 2,000 examples with 10 outputs is 20000×20000, 3.2 GB).
 *
 * <p>Two layouts, as neural-tangents' {@code gradient_descent_mse} reads them:
 * <ul>
 *   <li><b>shared</b> ({@code blockSize = 1}): an N×N kernel K (trace, pntk, ...) that acts on O outputs as
 *       K ⊗ I_O — the same N×N problem for each output;</li>
 *   <li><b>full</b> ({@code blockSize = O}): the [N, N, O, O] kernel Θ, read as the NO×NO matrix with row
 *       (n, o) = n·O + o, i.e. Θ transposed to [N, O, N, O] and flattened.</li>
 * </ul>
 */
public final class KernelMatrix implements AutoCloseable {
    private final int examples;
    private final int blockSize;
    private final boolean full;
    private final int dimension;
    private DoublePointer data;

    private KernelMatrix(int examples, int blockSize, boolean full) {
        if (examples < 1 || blockSize < 1) {
            throw new IllegalArgumentException("kernel matrix: need at least one example and one output, got "
                    + examples + " examples and block size " + blockSize);
        }
        long d = (long) examples * blockSize;
        if (d > Integer.MAX_VALUE / 2) {
            throw new IllegalArgumentException("kernel matrix: dimension " + d + " is too large for LAPACK");
        }
        this.examples = examples;
        this.blockSize = blockSize;
        this.full = full;
        this.dimension = (int) d;
        this.data = new DoublePointer(d * d);
        if (data.isNull()) {
            throw new OutOfMemoryError("cannot allocate " + d * d * 8 + " bytes for a " + d + "×" + d + " kernel");
        }
        data.zero();
    }

    /**
     * A zero N×N matrix in the shared layout (an N×N kernel kind, read as K ⊗ I_O).
     *
     * @param examples N
     * @return a new float64 matrix, which the caller closes
     * @throws OutOfMemoryError if its N² doubles cannot be allocated
     */
    public static KernelMatrix zerosShared(int examples) {
        return new KernelMatrix(examples, 1, false);
    }

    /**
     * A zero NO×NO matrix in the full layout (the [N, N, O, O] kernel).
     *
     * @param examples N
     * @param outputs O
     * @return a new float64 matrix, row (n·O + k) for example n and output k, which the caller closes
     * @throws OutOfMemoryError if its (NO)² doubles cannot be allocated
     */
    public static KernelMatrix zerosFull(int examples, int outputs) {
        return new KernelMatrix(examples, outputs, true);
    }

    /**
     * The relative asymmetry max |K_ij − K_ji| / max |K_ij| above which a train-train kernel is refused: float32
     * round-off passes (the kernels ntk4j computes of x with itself are exactly symmetric), and the consumers that
     * assume symmetry use such a kernel's symmetric part ({@link #symmetrise()}).
     */
    public static final double SYMMETRY_TOLERANCE = 1e-5;

    /**
     * The train-train kernel [N, N] (shared layout) or [N, N, O, O] (full layout), float32 or float64.
     *
     * @param kernel the kernel; copied into float64 storage, not closed
     * @return a new matrix, which the caller closes
     * @throws IllegalArgumentException if the kernel is null or not [N, N] or [N, N, O, O], holds NaN or ±∞, or is not
     *     symmetric (relative asymmetry above {@link #SYMMETRY_TOLERANCE}: it is not K(x, x); within it the solvers
     *     use its symmetric part, {@link #symmetrise()})
     */
    public static KernelMatrix of(Tensor kernel) {
        if (kernel == null) {
            throw new IllegalArgumentException("kernel: expected a train-train kernel [N, N] or [N, N, O, O], got "
                    + "null");
        }
        int[] s = kernel.shape();
        if (!(s.length == 2 && s[0] == s[1]) && !(s.length == 4 && s[0] == s[1] && s[2] == s[3])) {
            throw new IllegalArgumentException("kernel: expected a train-train kernel [N, N] or [N, N, O, O], got "
                    + Shapes.str(s));
        }
        KernelMatrix m = new KernelMatrix(s[0], s.length == 4 ? s[2] : 1, s.length == 4);
        try {
            m.setRows(0, kernel);
            m.requireSymmetric("kernel");
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
        return m;
    }

    /**
     * Writes the rows of examples {@code first .. first + r - 1} from {@code rows}, the kernel of those r examples
     * against all N: [r, N] (shared layout) or [r, N, O, O] (full layout). Non-finite values are an error.
     *
     * @param first the first example written
     * @param rows the rows; copied, not closed
     * @throws IllegalArgumentException if the rows' shape does not fit this matrix from {@code first}, or they
     *     hold NaN or ±∞
     */
    public void setRows(int first, Tensor rows) {
        put(first, 0, rows, "rows", "[r, ");
    }

    /**
     * Writes the upper part of the rows of examples {@code first .. first + r - 1}: {@code block} is their kernel
     * against examples {@code first .. N - 1}, [r, N − first] (shared layout) or [r, N − first, O, O] (full layout);
     * the entries on and above the matrix's diagonal are written, those below it are left for
     * {@link #mirrorUpper()} (a train kernel computed row tile by row tile, each tile against the examples from its
     * own first on: half the work of whole rows). Non-finite values are an error.
     *
     * @param first the first example written, which is also the block's first column example
     * @param block the block; copied, not closed
     * @throws IllegalArgumentException if the block's shape does not fit this matrix from {@code first}, or it holds
     *     NaN or ±∞
     */
    public void setUpperRows(int first, Tensor block) {
        put(first, first, block, "upper rows", "[r, N - first = ");
    }

    /**
     * Rows of examples from {@code first} against the examples from {@code from} (0: whole rows; {@code first}: the
     * upper part, entries below the diagonal skipped).
     */
    private void put(int first, int from, Tensor rows, String what, String expected) {
        checkOpen();
        int[] s = rows.shape();
        int columns = examples - from;
        boolean ok = !full ? s.length == 2 && s[1] == columns
                : s.length == 4 && s[1] == columns && s[2] == blockSize && s[3] == blockSize;
        if (!ok || first < 0 || first + s[0] > examples) {
            throw new IllegalArgumentException("kernel: " + what + " " + Shapes.str(s) + " from example " + first
                    + " do not fit a kernel of " + examples + " examples"
                    + (full ? " and " + blockSize + " outputs" : "") + " (expected " + expected + columns
                    + (full ? ", " + blockSize + ", " + blockSize + "]" : "]") + ")");
        }
        int bad = rows.firstNonFinite();
        if (bad >= 0) {
            throw new IllegalArgumentException("kernel: " + rows.getFlat(bad) + " at flat index " + bad
                    + " of the " + what + " from example " + first);
        }
        double[] row = new double[dimension];
        int o = blockSize;
        DoublePointer p = new DoublePointer(data);
        for (int a = 0; a < s[0]; a++) {
            for (int k = 0; k < o; k++) {
                // row (first + a, k): entries (from + b, l) come from rows[a, b, k, l]
                long base = (long) a * columns * o * o + (long) k * o;
                for (int b = 0; b < columns; b++) {
                    long src = base + (long) b * o * o;
                    for (int l = 0; l < o; l++) {
                        row[(from + b) * o + l] = rows.getFlat((int) (src + l));
                    }
                }
                int i = (first + a) * o + k;
                int j0 = from == 0 ? 0 : i; // the upper part: from the diagonal on
                p.position((long) i * dimension + j0).put(row, j0, dimension - j0);
            }
        }
    }

    /**
     * Copies the upper triangle onto the lower one, in place (K_ji := K_ij for j &gt; i), after
     * {@link #setUpperRows}: the matrix is then exactly symmetric. Reads and writes square tiles.
     *
     * @throws IllegalStateException if the matrix is closed
     */
    public void mirrorUpper() {
        checkOpen();
        updateTilePairs(data, dimension, (i0, j0, ni, nj, upper, lower) -> {
            for (int i = 0; i < ni; i++) {
                for (int j = 0; j < nj; j++) {
                    if (j0 + j > i0 + i) { // strictly above the diagonal: its mirror below takes its value
                        lower[j * ni + i] = upper[i * nj + j];
                    }
                }
            }
        });
    }


    /**
     * Number of examples N.
     *
     * @return N
     */
    public int examples() {
        return examples;
    }

    /**
     * 1 for an N×N kernel read as K ⊗ I_O, O for a full kernel.
     *
     * @return the block size
     */
    public int blockSize() {
        return blockSize;
    }

    /**
     * True for the full layout (from an [N, N, O, O] kernel), false for an N×N kernel.
     *
     * @return whether the layout is full
     */
    public boolean isFull() {
        return full;
    }

    /**
     * The matrix's side: N or N·O.
     *
     * @return the dimension
     */
    public int dimension() {
        return dimension;
    }

    /**
     * Bytes of storage: dimension² doubles.
     *
     * @return the bytes
     */
    public long bytes() {
        return (long) dimension * dimension * 8;
    }

    /**
     * Entry (i, j).
     *
     * @param i row, in [0, dimension)
     * @param j column, in [0, dimension)
     * @return the entry
     * @throws IllegalStateException if the matrix is closed
     * @throws IndexOutOfBoundsException if i or j is outside [0, dimension)
     */
    public double get(int i, int j) {
        checkOpen();
        checkIndex("row", i);
        checkIndex("column", j);
        return data.get((long) i * dimension + j);
    }

    /** The native storage has no bounds of its own: an index outside the matrix would read or write other memory. */
    private void checkIndex(String what, int i) {
        if (i < 0 || i >= dimension) {
            throw new IndexOutOfBoundsException("kernel matrix: " + what + " " + i + " is outside [0, " + dimension
                    + ")");
        }
    }

    /** A row array must hold a whole row. */
    private void checkRowArray(String what, double[] a) {
        if (a.length < dimension) {
            throw new IllegalArgumentException("kernel matrix: " + what + " has " + a.length + " entries; a row has "
                    + dimension);
        }
    }

    /**
     * Copies row i into {@code out} (length = dimension).
     *
     * @param i row, in [0, dimension)
     * @param out receives the row; at least dimension long
     * @throws IllegalStateException if the matrix is closed
     * @throws IndexOutOfBoundsException if i is outside [0, dimension)
     * @throws IllegalArgumentException if {@code out} is shorter than a row
     */
    public void getRow(int i, double[] out) {
        checkOpen();
        checkIndex("row", i);
        checkRowArray("out", out);
        new DoublePointer(data).position((long) i * dimension).get(out, 0, dimension);
    }

    /**
     * Overwrites row i with {@code values} (length = dimension).
     *
     * @param i row, in [0, dimension)
     * @param values the new row; at least dimension long
     * @throws IllegalStateException if the matrix is closed
     * @throws IndexOutOfBoundsException if i is outside [0, dimension)
     * @throws IllegalArgumentException if {@code values} is shorter than a row
     */
    public void putRow(int i, double[] values) {
        checkOpen();
        checkIndex("row", i);
        checkRowArray("values", values);
        new DoublePointer(data).position((long) i * dimension).put(values, 0, dimension);
    }

    /**
     * Adds {@code value} to every diagonal entry.
     *
     * @param value added to each K_ii
     */
    public void addToDiagonal(double value) {
        checkOpen();
        for (long i = 0; i < dimension; i++) {
            long at = i * dimension + i;
            data.put(at, data.get(at) + value);
        }
    }

    /**
     * Σ_i K_ii.
     *
     * @return the trace
     */
    public double trace() {
        checkOpen();
        double t = 0;
        for (long i = 0; i < dimension; i++) {
            t += data.get(i * dimension + i);
        }
        return t;
    }

    /**
     * Refuses a square kernel tensor [N, N] whose relative asymmetry exceeds {@link #SYMMETRY_TOLERANCE}, for
     * solvers that read one triangle of it (GP inference's Cholesky factorisation).
     *
     * @param what the kernel's name, for the message
     * @param k the [N, N] kernel
     * @throws IllegalArgumentException if it is not symmetric
     */
    static void requireSymmetric(String what, Tensor k) {
        int n = k.dim(0);
        double worst = 0;
        double scale = 0;
        for (int i = 0; i < n; i++) {
            for (int j = i; j < n; j++) {
                double a = k.getFlat(i * n + j);
                double b = k.getFlat(j * n + i);
                worst = Math.max(worst, Math.abs(a - b));
                scale = Math.max(scale, Math.max(Math.abs(a), Math.abs(b)));
            }
        }
        refuseAsymmetry(what, scale == 0 ? 0 : worst / scale);
    }

    /**
     * Refuses this matrix when its {@link #relativeAsymmetry()} exceeds {@link #SYMMETRY_TOLERANCE}.
     *
     * @param what the kernel's name, for the message
     * @return the relative asymmetry measured (at most the tolerance)
     * @throws IllegalArgumentException if it is not symmetric
     */
    public double requireSymmetric(String what) {
        double asymmetry = relativeAsymmetry();
        refuseAsymmetry(what, asymmetry);
        return asymmetry;
    }

    private static void refuseAsymmetry(String what, double asymmetry) {
        if (asymmetry > SYMMETRY_TOLERANCE) {
            throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, "%s: not symmetric (max |K − Kᵀ| "
                    + "/ max |K| = %.3g); a train-train kernel K(x, x) must be symmetric", what, asymmetry));
        }
    }

    /**
     * max |K_ij − K_ji| / max |K_ij| (0 for an exactly symmetric matrix); reads square tiles (i, j) and (j, i).
     *
     * @return the relative asymmetry
     */
    public double relativeAsymmetry() {
        checkOpen();
        final int t = 256;
        double[] upper = new double[t * t];
        double[] lower = new double[t * t];
        double worst = 0;
        double scale = 0;
        for (int i0 = 0; i0 < dimension; i0 += t) {
            int ni = Math.min(t, dimension - i0);
            for (int j0 = i0; j0 < dimension; j0 += t) {
                int nj = Math.min(t, dimension - j0);
                readTile(i0, j0, ni, nj, upper);
                readTile(j0, i0, nj, ni, lower);
                for (int i = 0; i < ni; i++) {
                    for (int j = 0; j < nj; j++) {
                        double u = upper[i * nj + j];
                        double l = lower[j * ni + i];
                        scale = Math.max(scale, Math.max(Math.abs(u), Math.abs(l)));
                        worst = Math.max(worst, Math.abs(u - l));
                    }
                }
            }
        }
        return scale == 0 ? 0 : worst / scale;
    }

    private void readTile(int i0, int j0, int ni, int nj, double[] out) {
        readTile(data, dimension, i0, j0, ni, nj, out);
    }

    private static void readTile(DoublePointer data, int dimension, int i0, int j0, int ni, int nj, double[] out) {
        DoublePointer p = new DoublePointer(data);
        for (int i = 0; i < ni; i++) {
            p.position((long) (i0 + i) * dimension + j0).get(out, i * nj, nj);
        }
    }

    private static void writeTile(DoublePointer data, int dimension, int i0, int j0, int ni, int nj, double[] in) {
        DoublePointer p = new DoublePointer(data);
        for (int i = 0; i < ni; i++) {
            p.position((long) (i0 + i) * dimension + j0).put(in, i * nj, nj);
        }
    }

    /**
     * Replaces K by its symmetric part (K + Kᵀ)/2, in place: the one place where every consumer of a train-train
     * kernel that assumes symmetry makes it so (the closed form's Cholesky and eigendecomposition, the ODE, the
     * posteriors, the ensemble, the spectrum, the largest eigenvalue behind the max learning rate). A kernel
     * accepted within {@link #SYMMETRY_TOLERANCE} (float32 round-off, tiles computed in different orders) then
     * counts both its triangles, so that K and Kᵀ give the same predictions, and t = ∞ (Cholesky) stays the limit of
     * finite t (eigendecomposition): LAPACK reads one triangle and would ignore the other silently.
     * neural-tangents' finite-time path does the same ({@code jnp.linalg.eigh} symmetrises its input by default);
     * its t = ∞ {@code cho_factor} reads the upper triangle alone. An exactly symmetric kernel (every kernel ntk4j
     * computes of x with itself, in one tensor or in predict's mirrored row tiles past 2³¹−1 bytes) is left
     * bit for bit as it is: (a + a)/2 = a, also beyond Double.MAX_VALUE / 2, where a + a would overflow. Reads
     * and writes square tiles (i, j) and (j, i); d² reads and writes against the d³ of a factorisation.
     *
     * @throws IllegalStateException if the matrix is closed
     */
    public void symmetrise() {
        checkOpen();
        symmetrise(data, dimension);
    }

    /**
     * {@link #symmetrise()} on the row-major float64 m×m matrix at {@code c} (a tensor's storage too), in place.
     *
     * @param c the matrix
     * @param m its side
     */
    static void symmetrise(DoublePointer c, int m) {
        updateTilePairs(c, m, (i0, j0, ni, nj, upper, lower) -> {
            for (int i = 0; i < ni; i++) {
                for (int j = 0; j < nj; j++) {
                    // on a diagonal tile (i0 = j0) both entries of a pair get the same value: a + b = b + a
                    double v = mean(upper[i * nj + j], lower[j * ni + i]);
                    upper[i * nj + j] = v;
                    lower[j * ni + i] = v;
                }
            }
        });
    }

    /**
     * Changes a square tile on or above the diagonal, {@code upper} (i0, j0), row-major ni×nj, and its mirror,
     * {@code lower} (j0, i0), row-major nj×ni (on the diagonal, i0 = j0, the same tile), read and written back.
     */
    @FunctionalInterface
    private interface TilePair {
        void update(int i0, int j0, int ni, int nj, double[] upper, double[] lower);
    }

    /**
     * Visits the m×m matrix at {@code c} in square tiles of 256: each tile (i0, j0) with j0 ≥ i0 and its mirror
     * (j0, i0) are read, handed to {@code pair}, and written back, the mirror last (on the diagonal it is the same
     * tile).
     */
    private static void updateTilePairs(DoublePointer c, int m, TilePair pair) {
        final int t = Math.max(1, Math.min(256, m));
        double[] upper = new double[t * t];
        double[] lower = new double[t * t];
        for (int i0 = 0; i0 < m; i0 += t) {
            int ni = Math.min(t, m - i0);
            for (int j0 = i0; j0 < m; j0 += t) {
                int nj = Math.min(t, m - j0);
                readTile(c, m, i0, j0, ni, nj, upper);
                readTile(c, m, j0, i0, nj, ni, lower);
                pair.update(i0, j0, ni, nj, upper, lower);
                writeTile(c, m, i0, j0, ni, nj, upper);
                writeTile(c, m, j0, i0, nj, ni, lower);
            }
        }
    }


    /**
     * (a + b)/2 of two finite entries, finite: a + b overflows to ∞ beyond Double.MAX_VALUE / 2 (about 9e307, the
     * kernel of huge float64 inputs), where the exact halves a/2 + b/2 are summed instead (one rounding, as
     * (a + b)/2 everywhere it is finite). An exactly symmetric entry, a = b, is a itself, bit for bit.
     */
    private static double mean(double a, double b) {
        double s = a + b;
        return Double.isInfinite(s) ? 0.5 * a + 0.5 * b : 0.5 * s;
    }

    /**
     * {@link #symmetrise()} on the row-major d×d matrix {@code a} held on the Java heap (the ODE's copy), in place.
     *
     * @param a the matrix
     * @param d its side
     */
    static void symmetrise(double[] a, int d) {
        for (int i = 0; i < d; i++) {
            for (int j = i + 1; j < d; j++) {
                double v = mean(a[i * d + j], a[j * d + i]);
                a[i * d + j] = v;
                a[j * d + i] = v;
            }
        }
    }

    /**
     * An independent copy.
     *
     * @return a new matrix, which the caller closes
     */
    public KernelMatrix copy() {
        checkOpen();
        KernelMatrix c = new KernelMatrix(examples, blockSize, full);
        org.bytedeco.javacpp.Pointer.memcpy(c.data, data, bytes());
        return c;
    }

    /**
     * The matrix as a tensor: [N, N] for the shared layout, [N, N, O, O] for the full one (the layout it was read
     * from); fails when it passes one tensor's 2^31-1 bytes.
     *
     * @return a new tensor, float64, which the caller closes
     * @throws IllegalArgumentException if it passes one tensor's 2^31-1 bytes
     */
    public Tensor toTensor() {
        checkOpen();
        int o = blockSize;
        Tensor t = full ? Tensor.empty(DType.F64, examples, examples, o, o)
                : Tensor.empty(DType.F64, examples, examples);
        double[] row = new double[dimension];
        for (int a = 0; a < examples; a++) {
            for (int k = 0; k < o; k++) {
                getRow(a * o + k, row);
                for (int b = 0; b < examples; b++) {
                    for (int l = 0; l < o; l++) {
                        t.setFlat((int) ((((long) a * examples + b) * o + k) * o + l), row[b * o + l]);
                    }
                }
            }
        }
        return t;
    }

    /** The storage (row-major dimension×dimension), for LAPACK and BLAS. */
    DoublePointer pointer() {
        checkOpen();
        return data;
    }

    private void checkOpen() {
        if (data == null) {
            throw new IllegalStateException("kernel matrix used after close()");
        }
    }

    @Override
    public void close() {
        if (data != null) {
            data.close();
            data = null;
        }
    }

    @Override
    public String toString() {
        return "KernelMatrix[" + examples + " examples" + (full ? ", " + blockSize + " outputs, NO×NO" : ", N×N")
                + ", " + dimension + "×" + dimension + "]";
    }
}

package org.ntk4j.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.ntk4j.ntk.CostModel;
import org.ntk4j.predict.KernelMatrix;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/** Kernel files read back for analysis ({@code ntk4j spectrum K.npy}). */
public final class KernelFiles {
    private KernelFiles() {
    }

    /**
     * Reads a train-train kernel written by {@code ntk4j kernel --out} (or NumPy) as a float64 matrix: an N×N kind
     * [N, N] as it is, the full kernel [N, N, O, O] as the NO×NO matrix of row n·O + o. A file of integers (or
     * booleans) is converted to float64 element by element, as data sources are (without their scaling of uint8).
     *
     * @param file the .npy file
     * @return the matrix, which the caller closes
     * @throws IllegalArgumentException if the file does not exist, is not square ([N, N] or [N, N, O, O]), is
     *     empty, holds a NaN or infinity (the message names its index), is more than one tensor of the type it
     *     is read in holds (2^31-1 bytes: N·O above 23170 in float32, above 16383 in float64 or for integers), or
     *     needs more than the JVM's off-heap limit (the file in that type and its float64 copy, held at once;
     *     refused from the header)
     * @throws IOException if the file cannot be read or is not a valid .npy file
     */
    public static KernelMatrix readSquare(Path file) throws IOException {
        return readSquareKernel(file).matrix();
    }

    /**
     * A kernel read by {@link #readSquareKernel} with the precision it was stored in.
     *
     * @param matrix the float64 matrix, which the caller closes
     * @param precision the file's floating-point type ({@link DType#F32} for a float32 file, {@link DType#F64} for a
     *     float64 file or one of integers, which float64 holds exactly): the round-off its values carry
     */
    public record SquareKernel(KernelMatrix matrix, DType precision) {
    }

    /**
     * {@link #readSquare} that also gives the precision the file was stored in, so that a float32 kernel's
     * eigenvalues are judged against float32 round-off ({@code ntk4j spectrum}'s singular-to-working-precision
     * flag), not float64's.
     *
     * @param file the .npy file
     * @return the matrix, which the caller closes, and the file's precision
     * @throws IllegalArgumentException as {@link #readSquare}
     * @throws IOException as {@link #readSquare}
     */
    public static SquareKernel readSquareKernel(Path file) throws IOException {
        return readSquareKernel(file, org.ntk4j.tensor.NativeMemory.maxBytes());
    }

    /** {@link #readSquareKernel(Path)} against a given off-heap limit (0 or less: none), for tests. */
    static SquareKernel readSquareKernel(Path file, long offHeapLimit) throws IOException {
        if (!Files.exists(file) || Files.isDirectory(file)) {
            throw new IllegalArgumentException("kernel file not found: " + file);
        }
        if (Files.isRegularFile(file)) {
            // the header first (a pipe is read once, below): a kernel too large for one tensor of the type it is
            // read in (a float file its own, integers float64) is refused as a kernel, not with the advice for data
            // files (a data source's :N), which does not apply here. The float64 copy (KernelMatrix) is off that
            // limit, so a float32 file of side up to 23170 is read (N = 20000, kernel --out's default float32)
            NpyHeader header = Npy.readHeader(file);
            int[] s = header.shape();
            requireSquare(file, s);
            DType read = header.dtype().tensorDType() != null ? header.dtype().tensorDType() : DType.F64;
            double bytes = read.bytes();
            for (int d : s) {
                bytes *= d; // a double: [N, N, O, O] of int sizes can pass a long
            }
            if (bytes > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, "%s: a kernel of shape %s "
                        + "is %.4g bytes as %s, more than one tensor holds (2^31-1 bytes: N·O at most 23170 in "
                        + "float32, 16383 in float64 or for integers); the kernel is read whole, in its own type "
                        + "(integers in float64)", file, Shapes.str(s), bytes, read == DType.F32 ? "float32"
                        : "float64"));
            }
            // the tensor read and its float64 copy are held at once: past the JVM's off-heap limit the copy's
            // allocation would fail only after the whole file was read, so the read is refused from the header
            long side = s.length == 4 ? (long) s[0] * s[2] : s[0];
            long copy = 8 * side * side;
            long need = (long) bytes + copy;
            if (offHeapLimit > 0 && need > offHeapLimit) {
                throw new IllegalArgumentException(file + ": reading a kernel of shape " + Shapes.str(s) + " takes "
                        + CostModel.humanAtLeast(need) + " (the file's " + CostModel.human((long) bytes) + " as "
                        + (read == DType.F32 ? "float32" : "float64") + ", then its float64 " + side + "×" + side
                        + " copy, " + CostModel.human(copy) + ", both held at once), more than this JVM's off-heap "
                        + "limit of " + CostModel.human(offHeapLimit) + "; raise it with NTK4J_JAVA_OPTS=-Xmx<size> "
                        + "(or -Dorg.bytedeco.javacpp.maxBytes)");
            }
        }
        try (Tensor t = Npy.readFloating(file, DType.F64)) { // one pass: a pipe is read once
            int[] s = t.shape();
            requireSquare(file, s);
            if (t.size() == 0) {
                throw new IllegalArgumentException(file + ": an empty kernel " + Shapes.str(s));
            }
            int bad = t.firstNonFinite();
            if (bad >= 0) {
                throw new IllegalArgumentException(file + ": contains " + t.getFlat(bad) + " at "
                        + Shapes.str(unravel(bad, s)) + "; a spectrum needs a finite kernel");
            }
            try {
                return new SquareKernel(KernelMatrix.of(t), t.dtype());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
            }
        }
    }

    private static void requireSquare(Path file, int[] s) {
        if (!(s.length == 2 && s[0] == s[1]) && !(s.length == 4 && s[0] == s[1] && s[2] == s[3])) {
            throw new IllegalArgumentException(file + ": expected a square kernel [N, N] or [N, N, O, O], got "
                    + Shapes.str(s));
        }
    }

    /**
     * The row-major multi-index of a flat index.
     *
     * @param flat the flat index
     * @param shape the shape
     * @return the index along each axis
     */
    public static int[] unravel(int flat, int[] shape) {
        int[] idx = new int[shape.length];
        for (int i = shape.length - 1; i >= 0; i--) {
            idx[i] = flat % shape[i];
            flat /= shape[i];
        }
        return idx;
    }
}

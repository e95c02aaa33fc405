package org.ntk4j.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
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
     * Bytes of the file read at a time (in the type it is read in) into the float64 matrix: a C-order kernel is
     * read in blocks of whole example rows, so the file is never held whole beside its float64 copy.
     */
    static final long BLOCK_BYTES = 64L << 20;

    /**
     * Reads a train-train kernel written by {@code ntk4j kernel --out} (or NumPy) as a float64 matrix: an N×N kind
     * [N, N] as it is, the full kernel [N, N, O, O] as the NO×NO matrix of row n·O + o. A file of integers (or
     * booleans) is converted to float64 element by element, as data sources are (without their scaling of uint8).
     * A C-order file (what {@code kernel --out} and {@code np.save} write) is read in blocks of example rows
     * straight into the matrix, so its size is bounded by the matrix's memory only; a Fortran-order one is read
     * whole and transposed, in one tensor of its type.
     *
     * @param file the .npy file
     * @return the matrix, which the caller closes
     * @throws IllegalArgumentException if the file does not exist, is the {@code OUT.partial} of a tiled
     *     {@code kernel --out} run that has not finished (its {@code OUT.manifest} beside it: tiles not yet computed
     *     are zeros there), is not square ([N, N] or [N, N, O, O]), is empty, holds a NaN or infinity (the message
     *     names its index), is not symmetric, needs more than the JVM's off-heap limit (the float64 matrix and the
     *     block read at a time; refused from the header), or is a Fortran-order file larger than one tensor of the
     *     type it is read in holds (2^31-1 bytes: N·O above 23170 in float32, above 16383 in float64 or for
     *     integers)
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
        return readSquareKernel(file, offHeapLimit, BLOCK_BYTES);
    }

    /** {@link #readSquareKernel(Path, long)} reading at most {@code blockBytes} (but one example row) at a time. */
    static SquareKernel readSquareKernel(Path file, long offHeapLimit, long blockBytes) throws IOException {
        if (Files.isDirectory(file)) { // an existing directory is not "not found"
            throw new IllegalArgumentException(file + " is a directory; expected a kernel file (.npy)");
        }
        if (!Files.exists(file)) {
            throw new IllegalArgumentException("kernel file not found: " + file);
        }
        requireFinished(file);
        String source = file.toString();
        // one channel, the header first (a pipe is read once): every refusal below comes before any allocation
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            long available = Npy.available(channel, file);
            NpyHeader header = NpyHeader.read(channel, source, NpyIO.chunk());
            int[] s = header.shape();
            requireSquare(file, s);
            if (s[0] == 0 || (s.length == 4 && s[2] == 0)) {
                throw new IllegalArgumentException(file + ": an empty kernel " + Shapes.str(s));
            }
            NpyIO.requireData(header, source, available);
            DType read = header.dtype().tensorDType() != null ? header.dtype().tensorDType() : DType.F64;
            String readName = read == DType.F32 ? "float32" : "float64";
            long side = s.length == 4 ? (long) s[0] * s[2] : s[0];
            long matrix = 8 * side * side;
            long rowElements = s.length == 4 ? (long) s[1] * s[2] * s[3] : s[1]; // one example's row of the file
            if (header.transposedOnRead()) {
                double bytes = (double) read.bytes() * s[0] * rowElements; // a double: [N, N, O, O] can pass a long
                if (bytes > Integer.MAX_VALUE) {
                    throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, "%s: a Fortran-order "
                            + "kernel of shape %s is %.4g bytes as %s, more than one tensor holds (2^31-1 bytes: N·O "
                            + "at most 23170 in float32, 16383 in float64 or for integers); a Fortran-order file is "
                            + "read whole to be transposed: save it in C order (np.ascontiguousarray) to read it in "
                            + "blocks", file, Shapes.str(s), bytes, readName));
                }
                requireMemory(file, s, offHeapLimit, (long) bytes, matrix, side, "the file's "
                        + CostModel.human((long) bytes) + " as " + readName + ", then its float64 " + side + "×" + side
                        + " copy, " + CostModel.human(matrix) + ", both held at once");
                return new SquareKernel(readFortran(file, channel, header, available, read), read);
            }
            // a block of whole example rows, at least one (a row is at most N·O² elements: it fits a tensor)
            long rowBytes = rowElements * read.bytes();
            int perBlock = (int) Math.max(1, Math.min(s[0], blockBytes / rowBytes));
            long block = perBlock * rowBytes;
            requireMemory(file, s, offHeapLimit, block, matrix, side, "its float64 " + side + "×" + side
                    + " matrix, " + CostModel.human(matrix) + ", and the file read " + CostModel.human(block)
                    + " at a time as " + readName);
            return new SquareKernel(readBlocks(file, channel, header, available, read, perBlock), read);
        }
    }

    /**
     * Refuses {@code OUT.partial} while {@code OUT.manifest} lies beside it: the data file of a tiled
     * {@code kernel --out} run that has not finished, a valid .npy whose tiles not yet computed are zeros. Its spectrum
     * would be that of another matrix, printed without a word (an interrupted run of 13 of 300 tiles: eigenvalues
     * down to −1377 for an NTK).
     */
    private static void requireFinished(Path file) {
        String name = file.getFileName().toString();
        if (!name.endsWith(".partial") || name.length() == ".partial".length()) {
            return;
        }
        Path out = file.resolveSibling(name.substring(0, name.length() - ".partial".length()));
        Path manifest = TileStore.manifestPath(out);
        if (!Files.exists(manifest)) {
            return;
        }
        String total;
        try {
            total = TileStore.recordedRun(out).getOrDefault("tiles", "?");
        } catch (IOException | RuntimeException e) {
            total = "?";
        }
        throw new IllegalArgumentException(file + ": the unfinished output of a tiled kernel run (" + manifest
                + " records " + TileStore.recordedTileCount(out) + " of " + total + " tiles; the others are still "
                + "zeros): finish it with the same kernel command and --resume, then read " + out);
    }

    private static void requireMemory(Path file, int[] s, long offHeapLimit, long read, long matrix, long side,
                                      String parts) {
        long need = read + matrix;
        if (offHeapLimit > 0 && need > offHeapLimit) {
            throw new IllegalArgumentException(file + ": reading a kernel of shape " + Shapes.str(s) + " takes "
                    + CostModel.humanAtLeast(need) + " (" + parts + "), more than this JVM's off-heap limit of "
                    + CostModel.human(offHeapLimit) + "; raise it with NTK4J_JAVA_OPTS=-Xmx<size> (or "
                    + "-Dorg.bytedeco.javacpp.maxBytes)");
        }
    }

    /** A C-order file, its header read: blocks of {@code perBlock} example rows, each checked, into the matrix. */
    private static KernelMatrix readBlocks(Path file, FileChannel channel, NpyHeader header, long available,
                                           DType read, int perBlock) throws IOException {
        int[] s = header.shape();
        KernelMatrix m = s.length == 4 ? KernelMatrix.zerosFull(s[0], s[2]) : KernelMatrix.zerosShared(s[0]);
        try {
            for (int first = 0; first < s[0]; first += perBlock) {
                int[] rows = s.clone();
                rows[0] = Math.min(perBlock, s[0] - first);
                try (Tensor t = Tensor.empty(read, rows)) {
                    long base = (long) first * (t.size() / rows[0]); // the block's first element in the file
                    // a pipe cut in this block is said to have had the earlier blocks' bytes too
                    NpyIO.readData(channel, header, file.toString(), available, base * header.dtype().itemSize(),
                            (long) t.size() * header.dtype().itemSize(),
                            NpyIO.into(t, header.dtype(), file.toString(), NpyIO.NATIVE_LITTLE_ENDIAN, base));
                    requireFinite(file, t, base, s);
                    m.setRows(first, t);
                }
            }
            requireSymmetric(file, m);
            return m;
        } catch (IOException | RuntimeException | Error e) {
            m.close();
            throw e;
        }
    }

    /** A Fortran-order file, its header read: transposed on read into one tensor, then copied to the matrix. */
    private static KernelMatrix readFortran(Path file, FileChannel channel, NpyHeader header, long available,
                                            DType read) throws IOException {
        int[] s = header.shape();
        try (Tensor t = Tensor.empty(read, s)) {
            NpyIO.readFortran(channel, header, file.toString(), available, s[0],
                    NpyIO.stridedInto(t, header.dtype(), file.toString()));
            requireFinite(file, t, 0, s);
            KernelMatrix m = s.length == 4 ? KernelMatrix.zerosFull(s[0], s[2]) : KernelMatrix.zerosShared(s[0]);
            try {
                m.setRows(0, t);
                requireSymmetric(file, m);
                return m;
            } catch (RuntimeException | Error e) {
                m.close();
                throw e;
            }
        }
    }

    private static void requireFinite(Path file, Tensor t, long base, int[] shape) {
        int bad = t.firstNonFinite();
        if (bad >= 0) {
            throw new IllegalArgumentException(file + ": contains " + t.getFlat(bad) + " at "
                    + Shapes.str(unravel(base + bad, shape)) + "; a spectrum needs a finite kernel");
        }
    }

    private static void requireSymmetric(Path file, KernelMatrix m) {
        try {
            m.requireSymmetric("kernel");
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
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
    public static int[] unravel(long flat, int[] shape) {
        int[] idx = new int[shape.length];
        for (int i = shape.length - 1; i >= 0; i--) {
            idx[i] = (int) (flat % shape[i]);
            flat /= shape[i];
        }
        return idx;
    }
}

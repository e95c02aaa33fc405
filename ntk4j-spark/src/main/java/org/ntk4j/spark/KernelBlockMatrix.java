package org.ntk4j.spark;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.mllib.linalg.DenseMatrix;
import org.apache.spark.mllib.linalg.Matrix;
import org.apache.spark.mllib.linalg.distributed.BlockMatrix;
import org.ntk4j.io.Npy;
import org.ntk4j.io.NpyDType;
import org.ntk4j.io.NpyHeader;
import org.apache.spark.rdd.RDD;
import scala.Tuple2;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction1;

/**
 * A finished kernel file ({@code .npy}, float32 or float64, as {@code ntk4j kernel --out} writes it, locally or on
 * Spark) as an MLlib {@link BlockMatrix} for downstream Spark code. The executors read their blocks from the file
 * themselves (a path every executor can reach, as for the Spark kernel job); the driver reads only the header.
 * Values are converted to double exactly (float32 to float64 is exact).
 *
 * <p>The matrix a kernel stands for:
 * <ul>
 *   <li>an N1×N2 kernel ({@code trace}, {@code pntk}, ...): itself;</li>
 *   <li>the full kernel [N1, N2, O1, O2]: the (N1·O1)×(N2·O2) matrix with row n1·O1 + o1 and column n2·O2 + o2,
 *       the Gram matrix of the stacked Jacobian rows J_o(x_n) (neural-tangents' layout before the zip);</li>
 *   <li>the per-logit kernel [N1, N2, O] ({@code diagonal}): one logit's N1×N2 matrix, {@link #ofLogit}.</li>
 * </ul>
 */
public final class KernelBlockMatrix {
    private KernelBlockMatrix() {
    }

    /**
     * The kernel at {@code npy} (rank 2 or the rank-4 full kernel) in square blocks of {@code blockSize}.
     *
     * @param sc the Spark context whose executors read the blocks
     * @param npy the kernel file, float32 or float64, on a path every executor reaches; read lazily, when the
     *     blocks are computed, so it must stay in place while the matrix is used
     * @param blockSize rows and columns per block, at least 1 (the last blocks may be smaller)
     * @return the N1×N2 or (N1·O1)×(N2·O2) matrix, as doubles
     * @throws IllegalArgumentException if the file is not float32 or float64, is a per-logit kernel or has another
     *     rank, is in Fortran order (two axes longer than 1), or blockSize is below 1 or makes more than 2^31 - 1
     *     blocks
     * @throws IOException if the file's header cannot be read or is not a valid {@code .npy} header
     */
    public static BlockMatrix of(JavaSparkContext sc, Path npy, int blockSize) throws IOException {
        NpyHeader h = header(npy);
        int[] s = h.shape();
        View view;
        if (s.length == 2) {
            view = new View(s[0], s[1], 1, 1, 0, 1);
        } else if (s.length == 4) {
            view = new View(s[0], s[1], s[2], s[3], 0, 1);
        } else if (s.length == 3) {
            throw new IllegalArgumentException("kernel " + npy + ": a per-logit kernel " + Arrays.toString(s)
                    + " has one N1×N2 matrix per logit; read one with ofLogit(sc, path, logit, blockSize)");
        } else {
            throw new IllegalArgumentException("kernel " + npy + ": expected shape [N1, N2] or [N1, N2, O, O], got "
                    + Arrays.toString(s));
        }
        return build(sc, npy, h, view, blockSize);
    }

    /**
     * Logit {@code logit}'s N1×N2 matrix of a per-logit kernel [N1, N2, O] ({@code --kind diagonal}).
     *
     * @param sc the Spark context whose executors read the blocks
     * @param npy the kernel file, float32 or float64, on a path every executor reaches; read lazily, when the
     *     blocks are computed, so it must stay in place while the matrix is used
     * @param logit the logit, in [0, O)
     * @param blockSize rows and columns per block, at least 1 (the last blocks may be smaller)
     * @return the N1×N2 matrix, as doubles
     * @throws IllegalArgumentException if the file is not a float32 or float64 kernel of rank 3 in C order, the logit
     *     is out of range, or blockSize is below 1 or makes more than 2^31 - 1 blocks
     * @throws IOException if the file's header cannot be read or is not a valid {@code .npy} header
     */

    public static BlockMatrix ofLogit(JavaSparkContext sc, Path npy, int logit, int blockSize) throws IOException {
        NpyHeader h = header(npy);
        int[] s = h.shape();
        if (s.length != 3) {
            throw new IllegalArgumentException("kernel " + npy + ": expected a per-logit kernel [N1, N2, O], got "
                    + Arrays.toString(s));
        }
        if (logit < 0 || logit >= s[2]) {
            throw new IllegalArgumentException("logit: expected 0 to " + (s[2] - 1) + ", got " + logit);
        }
        // element (n1, n2) at flat index (n1·N2 + n2)·O + logit: a [N1, N2, 1, 1] view with stride O and offset
        return build(sc, npy, h, new View(s[0], s[1], 1, 1, logit, s[2]), blockSize);
    }

    private static NpyHeader header(Path npy) throws IOException {
        NpyHeader h = Npy.readHeader(npy);
        if (h.dtype() != NpyDType.FLOAT32 && h.dtype() != NpyDType.FLOAT64) {
            throw new IllegalArgumentException("kernel " + npy + ": expected float32 or float64, got '" + h.descr()
                    + "'");
        }
        long longAxes = Arrays.stream(h.shape()).filter(d -> d > 1).count();
        if (h.fortranOrder() && longAxes > 1) {
            // the executors read each block's rows in place, at C-order offsets; in Fortran order a row's values lie
            // a column apart, so a block would cost reading most of the file: refused rather than read slowly
            throw new IllegalArgumentException("kernel " + npy + ": stored in Fortran (column-major) order, which the "
                    + "executors cannot read block by block in place; save it in C order (np.save(path, "
                    + "np.ascontiguousarray(k))) or read it with Npy.readTensor, which transposes on read");
        }
        return h;
    }

    private static BlockMatrix build(JavaSparkContext sc, Path npy, NpyHeader h, View view, int blockSize) {
        if (blockSize < 1) {
            throw new IllegalArgumentException("blockSize: expected a positive number, got " + blockSize);
        }
        long rows = view.rows();
        long cols = view.cols();
        long rowBlocks = (rows + blockSize - 1) / blockSize;
        long colBlocks = (cols + blockSize - 1) / blockSize;
        if (rowBlocks * colBlocks > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("blockSize: " + blockSize + " makes more than 2^31 blocks of a "
                    + rows + "×" + cols + " matrix; use larger blocks");
        }
        List<int[]> ids = new ArrayList<>();
        for (int bi = 0; bi < rowBlocks; bi++) {
            for (int bj = 0; bj < colBlocks; bj++) {
                ids.add(new int[] {bi, bj});
            }
        }
        String file = npy.toAbsolutePath().toString();
        long offset = h.dataOffset();
        int itemSize = h.dtype().itemSize();
        int slices = Math.max(1, Math.min(ids.size(), sc.defaultParallelism() * 4));
        // mapped through the Scala API with the element's real ClassTag: BlockMatrix collects blocks into typed
        // arrays, which the Java API's erased tag (Object) would break
        // the driver's BLAS first, so that MLlib's netlib BLAS (this BlockMatrix's operations) uses OpenBLAS too
        // rather than putting another BLAS under ntk4j's kernels in this JVM (Blas.load)
        org.ntk4j.cpu.Blas.load();
        RDD<Tuple2<Tuple2<Object, Object>, Matrix>> blocks = sc.parallelize(ids, slices).rdd()
                .map(new ReadBlock(file, offset, itemSize, view, blockSize), BLOCK_TAG);
        return new BlockMatrix(blocks, blockSize, blockSize, rows, cols);
    }

    @SuppressWarnings("unchecked")
    private static final ClassTag<Tuple2<Tuple2<Object, Object>, Matrix>> BLOCK_TAG =
            (ClassTag<Tuple2<Tuple2<Object, Object>, Matrix>>) (ClassTag<?>) ClassTag$.MODULE$.apply(Tuple2.class);

    /** Reads block (bi, bj) on an executor. */
    private static final class ReadBlock extends AbstractFunction1<int[], Tuple2<Tuple2<Object, Object>, Matrix>>
            implements Serializable {
        private static final long serialVersionUID = 1L;
        private final String file;
        private final long offset;
        private final int itemSize;
        private final View view;
        private final int blockSize;

        ReadBlock(String file, long offset, int itemSize, View view, int blockSize) {
            this.file = file;
            this.offset = offset;
            this.itemSize = itemSize;
            this.view = view;
            this.blockSize = blockSize;
        }

        @Override
        public Tuple2<Tuple2<Object, Object>, Matrix> apply(int[] id) {
            org.ntk4j.cpu.Blas.load(); // before MLlib's netlib BLAS on this executor: both then use OpenBLAS
            return new Tuple2<>(new Tuple2<>(id[0], id[1]),
                    readBlock(file, offset, itemSize, view, id[0], id[1], blockSize));
        }
    }

    /**
     * The kernel as a matrix: a [N1, N2, O1, O2] array of which element (r, c) = (n1·O1 + o1, n2·O2 + o2) sits at
     * flat index start + stride·(((n1·N2 + n2)·O1 + o1)·O2 + o2).
     */
    private static final class View implements Serializable {
        private static final long serialVersionUID = 1L;
        final long n1;
        final long n2;
        final long o1;
        final long o2;
        final long start;
        final long stride;

        View(long n1, long n2, long o1, long o2, long start, long stride) {
            this.n1 = n1;
            this.n2 = n2;
            this.o1 = o1;
            this.o2 = o2;
            this.start = start;
            this.stride = stride;
        }

        long rows() {
            return n1 * o1;
        }

        long cols() {
            return n2 * o2;
        }

        long flat(long r, long c) {
            return start + stride * ((((r / o1) * n2 + c / o2) * o1 + r % o1) * o2 + c % o2);
        }
    }

    /** Block (bi, bj), column-major as MLlib's DenseMatrix keeps it; one positional read per matrix row. */
    static Matrix readBlock(String file, long dataOffset, int itemSize, View v, int bi, int bj, int blockSize) {
        long r0 = (long) bi * blockSize;
        long c0 = (long) bj * blockSize;
        int nr = (int) Math.min(blockSize, v.rows() - r0);
        int nc = (int) Math.min(blockSize, v.cols() - c0);
        double[] values = new double[nr * nc];
        try (FileChannel ch = FileChannel.open(Path.of(file), StandardOpenOption.READ)) {
            ByteBuffer buf = null;
            for (int i = 0; i < nr; i++) {
                long r = r0 + i;
                // the row's columns c0..c0+nc-1 lie within flat indices [first, last], increasing in c
                long first = v.flat(r, c0);
                long last = v.flat(r, c0 + nc - 1);
                int span = (int) (last - first + 1);
                if (buf == null || buf.capacity() < span * itemSize) {
                    buf = ByteBuffer.allocate(span * itemSize).order(ByteOrder.LITTLE_ENDIAN);
                }
                buf.clear().limit(span * itemSize);
                long pos = dataOffset + first * itemSize;
                while (buf.hasRemaining()) {
                    if (ch.read(buf, pos + buf.position()) < 0) {
                        throw new IOException(file + ": ends before element " + (last + 1) + " of the kernel");
                    }
                }
                for (int j = 0; j < nc; j++) {
                    int at = (int) (v.flat(r, c0 + j) - first) * itemSize;
                    values[j * nr + i] = itemSize == 4 ? buf.getFloat(at) : buf.getDouble(at);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new DenseMatrix(nr, nc, values);
    }
}

package org.ntk4j.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Objects;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Reads and writes NumPy {@code .npy} files (little-endian; written in C order, read in C or Fortran order), with
 * the JDK only.
 *
 * <p><b>Writing</b> produces byte for byte what {@code np.save} writes for the same array: format version 1.0,
 * or 2.0 when the header does not fit in 64 KiB (only for ranks in the thousands); tensors are written as
 * {@code <f4} or {@code <f8}, {@link NpyArray}s in their own type. The path is written as given (no
 * {@code .npy} is appended).
 *
 * <p><b>Reading</b> accepts format versions 1.0, 2.0 and 3.0 and the element types of {@link NpyDType}:
 * {@code <f4}, {@code <f8}, {@code |u1}, {@code |i1}, {@code <i2}, {@code <u2}, {@code <i4}, {@code <u4},
 * {@code <i8}, {@code <u8}, {@code |b1}, in C or Fortran order. Anything else fails with an
 * {@link NpyFormatException} whose message names the file and the problem: a bad magic string, a malformed
 * header, a truncated file, big-endian data, object (pickled) arrays, and every other dtype. Bytes after the data
 * are ignored, as NumPy does.
 *
 * <p><b>Fortran order</b> ({@code 'fortran_order': True}: NumPy's {@code np.save} of a transposed or
 * {@code np.asfortranarray} array, column-major exports) is transposed on read: the values come in C order, as
 * every ntk4j tensor and {@link NpyArray} holds them, element (i0, ..., ik) where NumPy has it. The file is read
 * in one pass in runs (each index of the other axes holds a contiguous run along axis 0) that are written to
 * their places directly: no second copy of the array. The first N rows ({@code PATH.npy:N}) are N values of
 * each run: those are read and the rest of each run skipped (a seek in a file; read and dropped in a pipe). An
 * array with at most one axis longer than 1 has the same bytes in both orders and is read as C order.
 *
 * <p>An array read whole must fit what it is read into (2^31-1 elements; a tensor's 2^31-1 bytes): a larger one
 * is refused before anything is allocated, saying how many of its first rows fit, which a data source's
 * {@code PATH.npy:N} reads from a file of any size.
 *
 * <p>Data moves between the file and the tensor in 1 MiB chunks through a reusable direct buffer and a
 * {@link FileChannel}; the file is never held in memory whole. Each file is read in one pass, so a pipe
 * ({@code /dev/stdin}) reads like a file (without the up-front check that it holds the whole array).
 */
public final class Npy {
    private Npy() {
    }

    /**
     * Writes {@code tensor} as {@code <f4} or {@code <f8}, replacing {@code path} if it exists — whole or not at
     * all ({@link AtomicFile}: on a failure the previous file is unchanged).
     *
     * @param path the file to create or replace
     * @param tensor the tensor; left open
     * @throws IllegalArgumentException if the tensor was closed
     * @throws IOException if the file cannot be written
     */
    public static void write(Path path, Tensor tensor) throws IOException {
        requireOpen(tensor);
        AtomicFile.write(path, channel -> write(channel, tensor));
    }

    /**
     * Writes {@code array} in its own dtype, replacing {@code path} if it exists, whole or not at all.
     *
     * @param path the file to create or replace
     * @param array the array
     * @throws IOException if the file cannot be written
     */
    public static void write(Path path, NpyArray array) throws IOException {
        Objects.requireNonNull(array, "array");
        AtomicFile.write(path, channel -> write(channel, array));
    }

    /**
     * Reads only the header: dtype, shape, version; fails as the readers do on files ntk4j cannot read, but for
     * size: the header of an array larger than a tensor is read (its first rows can be, {@code PATH.npy:N}).
     *
     * @param path the {@code .npy} file
     * @return the header
     * @throws NpyFormatException if the header is malformed or describes an array ntk4j cannot read
     * @throws IOException if the file cannot be read
     */
    public static NpyHeader readHeader(Path path) throws IOException {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            return NpyHeader.read(channel, path.toString(), NpyIO.chunk());
        }
    }

    /**
     * Reads a {@code <f4} or {@code <f8} file into a tensor of that dtype (the caller closes it); a {@code <f2}
     * (float16) file into an F32 tensor, exactly.
     *
     * @param path the {@code .npy} file
     * @return the tensor, of the file's shape, which the caller closes
     * @throws IOException if the file cannot be read
     * @throws NpyFormatException also when the file holds integers or booleans: read those with
     *     {@link #readTensor(Path, DType)} (converting) or {@link #read(Path)}
     */
    public static Tensor readTensor(Path path) throws IOException {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            return readTensor(channel, path.toString(), null, available(channel, path));
        }
    }

    /**
     * Reads a file of any supported dtype into a new tensor of {@code dtype}, converting each element: integers
     * exactly (int64 token ids, say), or not at all: an integer the tensor type cannot hold exactly (beyond 2^24 in
     * magnitude for float32, 2^53 for float64, but for multiples of powers of two) is refused, naming its index.
     *
     * @param path the {@code .npy} file
     * @param dtype the tensor type
     * @return the tensor, of the file's shape, which the caller closes
     * @throws NpyFormatException if the file is not a {@code .npy} ntk4j can read
     * @throws IOException if the file cannot be read
     * @throws IllegalArgumentException if an element does not fit the tensor type (see above; a finite float beyond
     *     float32's range)
     */
    public static Tensor readTensor(Path path, DType dtype) throws IOException {
        Objects.requireNonNull(dtype, "dtype");
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            return readTensor(channel, path.toString(), dtype, available(channel, path));
        }
    }

    /**
     * Reads the header and the first {@code rows} entries along axis 0 (all when {@code rows} is negative or
     * beyond the array's) into a new tensor of {@code dtype}, in one pass: only those rows' bytes are read and
     * held (in C order they come first; in Fortran order they are one run per index of the other axes, the rest
     * of each run skipped), which is how {@code PATH.npy:N} reads N examples of a file
     * larger than a tensor. A regular file must still hold the whole array (a truncated file is refused); a pipe
     * ({@code /dev/stdin}) is read once, as far as the rows asked for.
     *
     * @param path the {@code .npy} file (or a pipe)
     * @param dtype the tensor type
     * @param rows how many entries of axis 0 to read; negative for all
     * @return the file's header (its shape uncut) and the tensor, which the caller closes
     * @throws NpyFormatException if the file is not a {@code .npy} ntk4j can read
     * @throws IOException if the file cannot be read
     */
    static Rows readRows(Path path, DType dtype, int rows) throws IOException {
        Objects.requireNonNull(dtype, "dtype");
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            return readRows(channel, path.toString(), dtype, null, available(channel, path), rows);
        }
    }

    /**
     * A header and (the first rows of) its array as a tensor.
     *
     * @param header the array's header, its shape uncut
     * @param tensor the values read, which the caller closes
     */
    record Rows(NpyHeader header, Tensor tensor) {
        /** Whether fewer rows were read than the array has (so the bytes after them were not read). */
        boolean partial() {
            return header.rank() > 0 && tensor.rank() > 0 && tensor.dim(0) < header.shape()[0];
        }
    }

    /** The bytes a regular file holds, or -1 (unknown) for a pipe or device, whose size says nothing. */
    static long available(FileChannel channel, Path path) throws IOException {
        return java.nio.file.Files.isRegularFile(path) ? channel.size() : -1;
    }

    /**
     * Reads a file of any supported dtype into an {@link NpyArray} of the file's dtype.
     *
     * @param path the {@code .npy} file
     * @return the array, on the Java heap
     * @throws NpyFormatException if the file is not a {@code .npy} ntk4j can read
     * @throws IOException if the file cannot be read
     */

    public static NpyArray read(Path path) throws IOException {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            return read(channel, path.toString(), available(channel, path));
        }
    }

    // ------------------------------------------------------------------------------ channel level (for Npz)

    static void write(WritableByteChannel channel, Tensor tensor) throws IOException {
        NpyIO.writeArray(channel, NpyDType.of(tensor.dtype()), tensor.shape(), tensor.size(), NpyIO.from(tensor));
    }

    static void write(WritableByteChannel channel, NpyArray array) throws IOException {
        NpyIO.writeArray(channel, array.dtype(), array.shape(), array.size(), array::writeChunk);
    }

    /** Bytes {@link #write(WritableByteChannel, Tensor)} writes for an array of this type and shape. */
    static long fileBytes(NpyDType dtype, int[] shape, int size) {
        return NpyHeader.encode(dtype, shape).length + (long) size * dtype.itemSize();
    }

    /**
     * Reads one array into a tensor.
     *
     * @param dtype the tensor type, or null for "the file's type, which must be floating"
     * @param available bytes in the file or entry, or -1 when unknown
     */
    static Tensor readTensor(ReadableByteChannel channel, String source, DType dtype, long available)
            throws IOException {
        return readRows(channel, source, dtype, null, available, -1).tensor();
    }

    /**
     * Reads a file in its own floating-point type, or, when it holds integers or booleans, converted to
     * {@code integersAs}, in one pass (a pipe too).
     *
     * @param path the {@code .npy} file (or a pipe)
     * @param integersAs the tensor type of a file that is not floating point
     * @return the tensor, which the caller closes
     * @throws NpyFormatException if the file is not a {@code .npy} ntk4j can read
     * @throws IOException if the file cannot be read
     */
    static Tensor readFloating(Path path, DType integersAs) throws IOException {
        Objects.requireNonNull(integersAs, "integersAs");
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            return readRows(channel, path.toString(), null, integersAs, available(channel, path), -1).tensor();
        }
    }

    /** {@link #readRows(ReadableByteChannel, String, DType, DType, long, int)} with no type for integers. */
    static Rows readRows(ReadableByteChannel channel, String source, DType dtype, long available, int rows)
            throws IOException {
        return readRows(channel, source, dtype, null, available, rows);
    }

    /**
     * Reads one array's header and its first {@code rows} entries along axis 0 (negative: all) into a tensor.
     *
     * @param dtype the tensor type, or null for "the file's type when floating, else {@code integersAs}"
     * @param integersAs with a null dtype, the tensor type of an integer or boolean file; null: such a file is
     *     refused
     * @param available bytes in the file or entry, or -1 when unknown; when known, the whole array must fit
     */
    static Rows readRows(ReadableByteChannel channel, String source, DType dtype, DType integersAs, long available,
                         int rows) throws IOException {
        NpyHeader header = NpyHeader.read(channel, source, NpyIO.chunk());
        DType target = dtype;
        if (target == null) {
            // float16 into float32, which holds each of its values exactly (the smallest tensor type that does)
            target = header.dtype().tensorDType() != null ? header.dtype().tensorDType()
                    : header.dtype() == NpyDType.FLOAT16 ? DType.F32 : integersAs;
            if (target == null) {
                throw new NpyFormatException(source + ": holds '" + header.descr() + "' data, not floating point;"
                        + " readTensor(path) reads '<f2', '<f4' and '<f8' only: use readTensor(path, DType) to convert,"
                        + " or read(path)");
            }
        }
        int[] shape = header.firstRows(rows, target, source); // what it asks for fits a tensor
        NpyIO.requireData(header, source, available);
        Tensor tensor = Tensor.empty(target, shape);
        try {
            if (header.transposedOnRead()) {
                NpyIO.readFortran(channel, header, source, available, shape[0],
                        NpyIO.stridedInto(tensor, header.dtype(), source));
            } else {
                NpyIO.readData(channel, header, source, available, (long) tensor.size() * header.dtype().itemSize(),
                        NpyIO.into(tensor, header.dtype(), source));
            }
            tensor.trackWritesFromNow(); // the reader's handle is gone: a parameter read here is validated once
            return new Rows(header, tensor);
        } catch (IOException | RuntimeException | Error e) {
            tensor.close();
            throw e;
        }
    }

    static NpyArray read(ReadableByteChannel channel, String source, long available) throws IOException {
        return read(channel, source, available, -1).array();
    }

    /**
     * Reads one array's header and its first {@code rows} entries along axis 0 (negative: all) into an
     * {@link NpyArray} of the file's type: only those rows' bytes are read (a labels file beside {@code x.npy:N}).
     *
     * @param available bytes in the file or entry, or -1 when unknown; when known, the whole array must fit
     */
    static ArrayRows read(ReadableByteChannel channel, String source, long available, int rows) throws IOException {
        NpyHeader header = NpyHeader.read(channel, source, NpyIO.chunk());
        int[] shape = header.firstRows(rows, null, source);
        NpyIO.requireData(header, source, available);
        NpyArray array = new NpyArray(header.dtype(), shape);
        if (header.transposedOnRead()) {
            NpyIO.readFortran(channel, header, source, available, shape[0], array::readStrided);
        } else {
            NpyIO.readData(channel, header, source, available, (long) array.size() * header.dtype().itemSize(),
                    array::readChunk);
        }
        return new ArrayRows(header, array);
    }

    /**
     * The first {@code rows} entries along axis 0 of a file (all when {@code rows} is negative) in the file's type,
     * with its header (its shape uncut); see {@link #read(ReadableByteChannel, String, long, int)}.
     */
    static ArrayRows read(Path path, int rows) throws IOException {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            return read(channel, path.toString(), available(channel, path), rows);
        }
    }

    /**
     * A header and (the first rows of) its array in the file's type.
     *
     * @param header the array's header, its shape uncut
     * @param array the values read
     */
    record ArrayRows(NpyHeader header, NpyArray array) {
        /** Whether fewer rows were read than the array has (so the bytes after them were not read). */
        boolean partial() {
            return header.rank() > 0 && array.shape()[0] < header.shape()[0];
        }
    }

    private static void requireOpen(Tensor tensor) {
        Objects.requireNonNull(tensor, "tensor");
        if (tensor.isClosed()) {
            throw new IllegalArgumentException("Npy.write: the tensor of shape "
                    + java.util.Arrays.toString(tensor.shape()) + " was closed");
        }
    }
}

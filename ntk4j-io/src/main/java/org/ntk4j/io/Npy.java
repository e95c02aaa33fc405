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
 * Reads and writes NumPy {@code .npy} files (C order, little-endian), with the JDK only.
 *
 * <p><b>Writing</b> produces byte for byte what {@code np.save} writes for the same array: format version 1.0,
 * or 2.0 when the header does not fit in 64 KiB (only for ranks in the thousands); tensors are written as
 * {@code <f4} or {@code <f8}, {@link NpyArray}s in their own type. The path is written as given (no
 * {@code .npy} is appended).
 *
 * <p><b>Reading</b> accepts format versions 1.0, 2.0 and 3.0 and the element types of {@link NpyDType}:
 * {@code <f4}, {@code <f8}, {@code |u1}, {@code |i1}, {@code <i2}, {@code <u2}, {@code <i4}, {@code <u4},
 * {@code <i8}, {@code <u8}, {@code |b1}. Anything else fails with an {@link NpyFormatException} whose message
 * names the file and the problem: a bad magic string, a malformed header, a truncated file, Fortran order (an
 * array with at most one axis longer than 1 has the same bytes in both orders and is read), big-endian data,
 * object (pickled) arrays, and every other dtype. Bytes after the data are ignored, as NumPy does.
 *
 * <p>Data moves between the file and the tensor in 1 MiB chunks through a reusable direct buffer and a
 * {@link FileChannel}; the file is never held in memory whole.
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
     * Reads only the header: dtype, shape, version; fails as the readers do on files ntk4j cannot read.
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
     * Reads a {@code <f4} or {@code <f8} file into a tensor of that dtype (the caller closes it).
     *
     * @param path the {@code .npy} file
     * @return the tensor, of the file's shape, which the caller closes
     * @throws IOException if the file cannot be read
     * @throws NpyFormatException also when the file holds integers or booleans: read those with
     *     {@link #readTensor(Path, DType)} (converting) or {@link #read(Path)}
     */
    public static Tensor readTensor(Path path) throws IOException {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            return readTensor(channel, path.toString(), null, channel.size());
        }
    }

    /**
     * Reads a file of any supported dtype into a new tensor of {@code dtype}, converting each element.
     *
     * @param path the {@code .npy} file
     * @param dtype the tensor type
     * @return the tensor, of the file's shape, which the caller closes
     * @throws NpyFormatException if the file is not a {@code .npy} ntk4j can read
     * @throws IOException if the file cannot be read
     */
    public static Tensor readTensor(Path path, DType dtype) throws IOException {
        Objects.requireNonNull(dtype, "dtype");
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            return readTensor(channel, path.toString(), dtype, channel.size());
        }
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
            return read(channel, path.toString(), channel.size());
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
        NpyHeader header = NpyHeader.read(channel, source, NpyIO.chunk());
        DType target = dtype;
        if (target == null) {
            target = header.dtype().tensorDType();
            if (target == null) {
                throw new NpyFormatException(source + ": holds '" + header.descr() + "' data, not floating point;"
                        + " readTensor(path) reads '<f4' and '<f8' only: use readTensor(path, DType) to convert,"
                        + " or read(path)");
            }
        }
        NpyIO.requireData(header, source, available);
        Tensor tensor = Tensor.empty(target, header.shape());
        try {
            NpyIO.readData(channel, header, source, available, NpyIO.into(tensor, header.dtype(), source));
            tensor.trackWritesFromNow(); // the reader's handle is gone: a parameter read here is validated once
            return tensor;
        } catch (IOException | RuntimeException | Error e) {
            tensor.close();
            throw e;
        }
    }

    static NpyArray read(ReadableByteChannel channel, String source, long available) throws IOException {
        NpyHeader header = NpyHeader.read(channel, source, NpyIO.chunk());
        NpyIO.requireData(header, source, available);
        NpyArray array = new NpyArray(header.dtype(), header.shape());
        NpyIO.readData(channel, header, source, available, array::readChunk);
        return array;
    }

    private static void requireOpen(Tensor tensor) {
        Objects.requireNonNull(tensor, "tensor");
        if (tensor.isClosed()) {
            throw new IllegalArgumentException("Npy.write: the tensor of shape "
                    + java.util.Arrays.toString(tensor.shape()) + " was closed");
        }
    }
}

package org.ntk4j.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Streaming of {@code .npy} data through one reusable direct buffer per thread: array data moves in chunks of
 * {@link #CHUNK_BYTES} between a channel and a tensor's (or an array's) storage, so that no byte array as large
 * as the file is ever built.
 */
final class NpyIO {
    /** Chunk size; a multiple of every item size, so that each chunk holds whole elements. */
    static final int CHUNK_BYTES = 1 << 20;
    /** Elements converted at a time when the file type differs from the tensor type. */
    private static final int CONVERT_BLOCK = 8192;

    /** Whether a tensor's bytes are already in {@code .npy} (little-endian) order. */
    static final boolean NATIVE_LITTLE_ENDIAN = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;

    private static final ThreadLocal<ByteBuffer> CHUNK =
            ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN));

    private NpyIO() {
    }

    /** Receives {@code count} elements, the array's elements {@code first ...}, at positions 0.. of {@code chunk}. */
    interface ChunkReader {
        void accept(ByteBuffer chunk, int first, int count);
    }

    /** Puts elements {@code first ... first + count - 1} at positions 0.. of {@code chunk} (absolute puts). */
    interface ChunkWriter {
        void fill(ByteBuffer chunk, int first, int count);
    }

    /**
     * Receives {@code count} elements at positions {@code from ...} of {@code chunk} (in elements, absolute gets),
     * the array's elements {@code first, first + stride, first + 2 stride, ...} (C-order flat indices): a run of a
     * Fortran-order file, whose first axis varies fastest.
     */
    interface StridedReader {
        void accept(ByteBuffer chunk, int from, int count, int first, int stride);
    }

    /** A channel that can pass over bytes without handing them over (a zip entry, {@link Npz}). */
    interface Skipping {
        /**
         * Passes over {@code bytes} bytes.
         *
         * @return how many were passed over: fewer only where the channel ends
         */
        long skip(long bytes) throws IOException;
    }

    /**
     * A gap between two runs of a Fortran-order read at least this long is skipped (a seek, in a file) rather than
     * read into the chunk and passed over: below it, reading the gap costs about what the seek and the short read
     * after it cost.
     */
    static final int SEEK_GAP_BYTES = 1 << 14;

    /** This thread's chunk buffer, cleared, little-endian. Not reentrant: one read or write at a time. */
    static ByteBuffer chunk() {
        ByteBuffer b = CHUNK.get();
        b.clear();
        return b;
    }

    /** Reads until {@code buf} is full or the channel ends; returns the number of bytes read. */
    static int readFully(ReadableByteChannel channel, ByteBuffer buf) throws IOException {
        int total = 0;
        while (buf.hasRemaining()) {
            int n = channel.read(buf);
            if (n < 0) {
                break;
            }
            total += n;
        }
        return total;
    }

    /** Writes all of {@code buf}'s remaining bytes. */
    static void writeFully(WritableByteChannel channel, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            channel.write(buf);
        }
    }

    /**
     * Reads the data of the array described by {@code header} (the channel positioned at its first byte), chunk by
     * chunk. Bytes after the data are left unread.
     *
     * @param available bytes of the whole file or entry when known (to detect truncation before reading), or -1
     */
    static void readData(ReadableByteChannel channel, NpyHeader header, String source, long available,
            ChunkReader reader) throws IOException {
        readData(channel, header, source, available, header.dataBytes(), reader);
    }

    /**
     * As {@link #readData(ReadableByteChannel, NpyHeader, String, long, ChunkReader)}, reading only the first
     * {@code needed} data bytes (whole elements: the first rows of a C-order array).
     */
    static void readData(ReadableByteChannel channel, NpyHeader header, String source, long available, long needed,
            ChunkReader reader) throws IOException {
        readData(channel, header, source, available, 0, needed, reader);
    }

    /**
     * As {@link #readData(ReadableByteChannel, NpyHeader, String, long, long, ChunkReader)} for a read that starts
     * {@code before} data bytes into the array (a block of rows after others, the channel positioned there): a file
     * that ends during it is said to have those bytes and the ones read here, not only the latter.
     */
    static void readData(ReadableByteChannel channel, NpyHeader header, String source, long available, long before,
            long needed, ChunkReader reader) throws IOException {
        requireData(header, source, available);
        int item = header.dtype().itemSize();
        ByteBuffer buf = chunk();
        long done = 0;
        int first = 0;
        while (done < needed) {
            int want = (int) Math.min(needed - done, buf.capacity());
            buf.clear().limit(want);
            int got = readFully(channel, buf);
            if (got < want) {
                throw truncated(source, header, before + done + got);
            }
            buf.flip();
            int count = want / item;
            reader.accept(buf, first, count);
            first += count;
            done += want;
        }
    }

    /**
     * Reads the first {@code rows} entries along axis 0 (at most the first axis, at least 1 row) of a Fortran-order
     * array ({@link NpyHeader#transposedOnRead}), the channel positioned at its first data byte, handing them to
     * {@code reader} in runs with their C-order places: in the file, index (i0, i1, ..., ik) is element
     * i0 + d0·(i1 + d1·(i2 + ...)), so for each index of the other axes (in file order) its first {@code rows}
     * values along axis 0 are one contiguous run, whose values go to C-order indices {@code c, c + M, c + 2M, ...}
     * (M the product of the other axes, c the index's C-order offset among them). The runs are read and the gaps
     * between them (the rows not asked for) passed over: skipped in a regular file or a zip entry ({@link Skipping})
     * when at least {@link #SEEK_GAP_BYTES} long, read and dropped in a pipe. Nothing after the last run is read.
     * Memory: the chunk buffer; each value is written once, at its place.
     *
     * @param available bytes of the whole file or entry when known, or -1
     */
    static void readFortran(ReadableByteChannel channel, NpyHeader header, String source, long available, int rows,
                            StridedReader reader) throws IOException {
        requireData(header, source, available);
        int[] shape = header.shape();
        int rank = shape.length;
        long others = 1;
        for (int j = 1; j < rank; j++) {
            others *= shape[j];
        }
        if (rows <= 0 || others == 0) {
            return;
        }
        int m = (int) others; // rows * others values fit a tensor or array (NpyHeader.firstRows)
        int item = header.dtype().itemSize();
        long runBytes = (long) rows * item;
        long gapBytes = ((long) shape[0] - rows) * item;
        boolean skipGaps = gapBytes >= SEEK_GAP_BYTES;
        long lastEnd = (others - 1) * shape[0] * item + runBytes; // data bytes up to the end of the last run
        long[] cStride = new long[rank]; // C-order strides of axes 1..k
        cStride[rank - 1] = 1;
        for (int j = rank - 2; j >= 1; j--) {
            cStride[j] = cStride[j + 1] * shape[j + 1];
        }
        int[] index = new int[rank]; // axes 1..k, counted in file (Fortran) order
        long c = 0;
        long pos = 0; // data bytes consumed
        ByteBuffer buf = chunk();
        buf.limit(0);
        for (int t = 0; t < m; t++) {
            int done = 0;
            while (done < rows) {
                if (!buf.hasRemaining()) {
                    // with gaps to skip, read to the end of this run; else on, as far as the last run
                    long want = Math.min(buf.capacity(), skipGaps ? (long) (rows - done) * item : lastEnd - pos);
                    buf.clear().limit((int) want);
                    int got = readFully(channel, buf);
                    if (got < want) {
                        throw truncated(source, header, pos + got);
                    }
                    buf.flip();
                }
                int n = Math.min(rows - done, buf.remaining() / item);
                reader.accept(buf, buf.position() / item, n, (int) (c + (long) done * m), m);
                buf.position(buf.position() + n * item);
                pos += (long) n * item;
                done += n;
            }
            if (t + 1 == m) {
                break;
            }
            if (gapBytes <= buf.remaining()) {
                buf.position(buf.position() + (int) gapBytes);
            } else {
                long rest = gapBytes - buf.remaining();
                buf.position(0).limit(0);
                long skipped = skip(channel, rest, available, buf);
                if (skipped < rest) {
                    throw truncated(source, header, pos + gapBytes - rest + skipped);
                }
            }
            pos += gapBytes;
            for (int j = 1; j < rank; j++) { // the next index of axes 1..k, axis 1 fastest
                c += cStride[j];
                if (++index[j] < shape[j]) {
                    break;
                }
                c -= shape[j] * cStride[j];
                index[j] = 0;
            }
        }
    }

    /**
     * Passes over {@code bytes} bytes of the channel: a seek in a regular file ({@code available} known), a skip in
     * a {@link Skipping} channel, else read into {@code buf} and dropped (a pipe). Leaves {@code buf} empty.
     *
     * @return the bytes passed over: fewer only where the channel ends
     */
    static long skip(ReadableByteChannel channel, long bytes, long available, ByteBuffer buf) throws IOException {
        if (channel instanceof java.nio.channels.FileChannel && available >= 0) {
            java.nio.channels.FileChannel file = (java.nio.channels.FileChannel) channel;
            long at = file.position();
            long skipped = Math.max(0, Math.min(bytes, file.size() - at));
            file.position(at + skipped);
            return skipped;
        }
        if (channel instanceof Skipping) {
            return ((Skipping) channel).skip(bytes);
        }
        long done = 0;
        while (done < bytes) {
            int want = (int) Math.min(buf.capacity(), bytes - done);
            buf.clear().limit(want);
            int got = readFully(channel, buf);
            done += got;
            if (got < want) {
                break;
            }
        }
        buf.position(0).limit(0);
        return done;
    }

    /**
     * Fails, before anything is allocated, when a file or entry of {@code available} bytes (-1: unknown) is too
     * short for the data the header announces.
     */
    static void requireData(NpyHeader header, String source, long available) throws NpyFormatException {
        if (available >= 0 && available - header.dataOffset() < header.dataBytes()) {
            throw truncated(source, header, Math.max(0, available - header.dataOffset()));
        }
    }

    private static NpyFormatException truncated(String source, NpyHeader header, long found) {
        return new NpyFormatException(source + ": truncated .npy file: shape " + shapeText(header.shape()) + " of '"
                + header.descr() + "' needs " + header.dataBytes() + " data bytes after the " + header.dataOffset()
                + "-byte header, the file has only " + found);
    }

    /** Writes the header and the data of an array, the data produced chunk by chunk by {@code writer}. */
    static void writeArray(WritableByteChannel channel, NpyDType dtype, int[] shape, int size, ChunkWriter writer)
            throws IOException {
        writeFully(channel, ByteBuffer.wrap(NpyHeader.encode(dtype, shape)));
        int item = dtype.itemSize();
        ByteBuffer buf = chunk();
        int perChunk = buf.capacity() / item;
        for (int first = 0; first < size; first += perChunk) {
            int count = Math.min(perChunk, size - first);
            buf.clear();
            writer.fill(buf, first, count);
            buf.position(0).limit(count * item);
            writeFully(channel, buf);
        }
    }

    /**
     * Reads chunks of file type {@code type} into {@code tensor}, converting when the types differ. Storage is
     * addressed through the tensor's pointer (64-bit offsets), not its buffer views, so tensors over 2 GiB work.
     */
    static ChunkReader into(Tensor tensor, NpyDType type, String source) {
        return into(tensor, type, source, NATIVE_LITTLE_ENDIAN);
    }

    /**
     * As {@link #into(Tensor, NpyDType, String)}; {@code memcpy} false forces the element-wise path (for tests). A
     * finite value that float32 cannot hold is refused, naming {@code source}, not turned into ±∞.
     */
    static ChunkReader into(Tensor tensor, NpyDType type, String source, boolean memcpy) {
        return into(tensor, type, source, memcpy, 0);
    }

    /**
     * As {@link #into(Tensor, NpyDType, String, boolean)} for a tensor that holds the file's elements from
     * {@code indexBase} on (a block of rows): a refused element is named by its index in the file.
     */
    static ChunkReader into(Tensor tensor, NpyDType type, String source, boolean memcpy, long indexBase) {
        Pointer base = tensor.pointer();
        if (memcpy && type.tensorDType() == tensor.dtype()) {
            // Same layout on both sides: the chunk's bytes are the tensor's bytes.
            int item = type.itemSize();
            return (chunk, first, count) -> Pointer.memcpy(base.getPointer(first), new Pointer(chunk),
                    (long) count * item);
        }
        double[] block = new double[CONVERT_BLOCK];
        float[] floats = tensor.dtype() == DType.F32 ? new float[CONVERT_BLOCK] : null;
        return (chunk, first, count) -> {
            for (int done = 0; done < count; done += CONVERT_BLOCK) {
                int n = Math.min(CONVERT_BLOCK, count - done);
                decode(type, chunk, done, n, block);
                if (wideInteger(type)) {
                    for (int i = 0; i < n; i++) {
                        requireExactInteger(type, rawInteger(type, chunk, done + i), tensor.dtype(), source,
                                indexBase + first + done + i);
                    }
                }
                if (floats != null) {
                    for (int i = 0; i < n; i++) {
                        floats[i] = toFloat(block[i], source, indexBase + first + done + i);
                    }
                    ((FloatPointer) base.getPointer((long) first + done)).put(floats, 0, n);
                } else {
                    ((DoublePointer) base.getPointer((long) first + done)).put(block, 0, n);
                }
            }
        };
    }

    /**
     * A {@link StridedReader} into {@code tensor} from file type {@code type}, converting as {@link #into} does (and
     * refusing what it refuses, naming the element's C-order index); writes go through the tensor's buffer view
     * (a tensor read holds at most 2^31-1 bytes, {@link NpyHeader#firstRows}).
     */
    static StridedReader stridedInto(Tensor tensor, NpyDType type, String source) {
        double[] block = new double[CONVERT_BLOCK];
        FloatBuffer floats = tensor.dtype() == DType.F32 ? tensor.floats() : null;
        DoubleBuffer doubles = floats == null ? tensor.doubles() : null;
        boolean wide = wideInteger(type);
        DType target = tensor.dtype();
        return (chunk, from, count, first, stride) -> {
            for (int done = 0; done < count; done += CONVERT_BLOCK) {
                int n = Math.min(CONVERT_BLOCK, count - done);
                decode(type, chunk, from + done, n, block);
                long at = first + (long) done * stride;
                for (int i = 0; i < n; i++, at += stride) {
                    if (wide) {
                        requireExactInteger(type, rawInteger(type, chunk, from + done + i), target, source, at);
                    }
                    if (floats != null) {
                        floats.put((int) at, toFloat(block[i], source, at));
                    } else {
                        doubles.put((int) at, block[i]);
                    }
                }
            }
        };
    }

    /** Whether integers of {@code type} may not fit float32's 24-bit significand (32- and 64-bit types). */
    static boolean wideInteger(NpyDType type) {
        return type == NpyDType.INT32 || type == NpyDType.UINT32 || type == NpyDType.INT64 || type == NpyDType.UINT64;
    }

    /** Element {@code index} of a chunk of a {@link #wideInteger} type: its value, or a uint64's bit pattern. */
    static long rawInteger(NpyDType type, ByteBuffer chunk, int index) {
        switch (type) {
            case INT32:
                return chunk.getInt(4 * index);
            case UINT32:
                return chunk.getInt(4 * index) & 0xFFFF_FFFFL;
            default:
                return chunk.getLong(8 * index);
        }
    }

    /**
     * Refuses an integer that {@code target} cannot hold exactly ({@link ExactIntegers}, the rule IDX and CSV
     * integers follow too).
     *
     * @param bits the value, or for {@link NpyDType#UINT64} its bit pattern
     */
    static void requireExactInteger(NpyDType type, long bits, DType target, String source, long index) {
        // the magnitude as an unsigned 64-bit number (|Long.MIN_VALUE| is 2^63, its own bit pattern)
        long magnitude = type == NpyDType.UINT64 || bits >= 0 ? bits : -bits;
        ExactIntegers.require(ExactIntegers.significantBits(magnitude),
                type == NpyDType.UINT64 ? Long.toUnsignedString(bits) : Long.toString(bits), target,
                source + ": element " + index);
    }

    /** {@code (float) v}, refusing a finite v beyond float32's range (which the cast turns into ±∞). */
    static float toFloat(double v, String source, long index) {
        float f = (float) v;
        if (Float.isInfinite(f) && !Double.isInfinite(v)) {
            throw new IllegalArgumentException(source + ": element " + index + " is " + v + ", beyond float32's "
                    + "range (±" + Float.MAX_VALUE + "); read the file as float64 (--dtype f64, DType.F64)");
        }
        return f;
    }

    /** Writes a tensor's elements in its own type (little-endian), through its pointer. */
    static ChunkWriter from(Tensor tensor) {
        return from(tensor, NATIVE_LITTLE_ENDIAN);
    }

    /** As {@link #from(Tensor)}; {@code memcpy} false forces the element-wise path (for tests). */
    static ChunkWriter from(Tensor tensor, boolean memcpy) {
        Pointer base = tensor.pointer();
        int item = tensor.dtype().bytes();
        if (memcpy) {
            return (chunk, first, count) -> Pointer.memcpy(new Pointer(chunk), base.getPointer(first),
                    (long) count * item);
        }
        if (tensor.dtype() == DType.F32) {
            float[] block = new float[CONVERT_BLOCK];
            return (chunk, first, count) -> {
                FloatBuffer out = chunk.asFloatBuffer();
                for (int done = 0; done < count; done += CONVERT_BLOCK) {
                    int n = Math.min(CONVERT_BLOCK, count - done);
                    ((FloatPointer) base.getPointer((long) first + done)).get(block, 0, n);
                    out.put(done, block, 0, n);
                }
            };
        }
        double[] block = new double[CONVERT_BLOCK];
        return (chunk, first, count) -> {
            DoubleBuffer out = chunk.asDoubleBuffer();
            for (int done = 0; done < count; done += CONVERT_BLOCK) {
                int n = Math.min(CONVERT_BLOCK, count - done);
                ((DoublePointer) base.getPointer((long) first + done)).get(block, 0, n);
                out.put(done, block, 0, n);
            }
        };
    }

    /** Elements {@code from ... from + n - 1} of a chunk of file type {@code type}, as doubles. */
    static void decode(NpyDType type, ByteBuffer chunk, int from, int n, double[] out) {
        switch (type) {
            case BOOL:
                for (int i = 0; i < n; i++) {
                    out[i] = chunk.get(from + i) != 0 ? 1 : 0;
                }
                break;
            case INT8:
                for (int i = 0; i < n; i++) {
                    out[i] = chunk.get(from + i);
                }
                break;
            case UINT8:
                for (int i = 0; i < n; i++) {
                    out[i] = chunk.get(from + i) & 0xFF;
                }
                break;
            case INT16:
                for (int i = 0; i < n; i++) {
                    out[i] = chunk.getShort(2 * (from + i));
                }
                break;
            case UINT16:
                for (int i = 0; i < n; i++) {
                    out[i] = chunk.getShort(2 * (from + i)) & 0xFFFF;
                }
                break;
            case INT32:
                for (int i = 0; i < n; i++) {
                    out[i] = chunk.getInt(4 * (from + i));
                }
                break;
            case UINT32:
                for (int i = 0; i < n; i++) {
                    out[i] = chunk.getInt(4 * (from + i)) & 0xFFFF_FFFFL;
                }
                break;
            case INT64:
                for (int i = 0; i < n; i++) {
                    out[i] = chunk.getLong(8 * (from + i));
                }
                break;
            case UINT64:
                for (int i = 0; i < n; i++) {
                    out[i] = unsignedToDouble(chunk.getLong(8 * (from + i)));
                }
                break;
            case FLOAT16:
                for (int i = 0; i < n; i++) {
                    out[i] = NpyDType.halfToDouble(chunk.getShort(2 * (from + i)));
                }
                break;
            case FLOAT32:
                for (int i = 0; i < n; i++) {
                    out[i] = chunk.getFloat(4 * (from + i));
                }
                break;
            case FLOAT64:
                for (int i = 0; i < n; i++) {
                    out[i] = chunk.getDouble(8 * (from + i));
                }
                break;
            default:
                throw new AssertionError(type);
        }
    }

    /** The unsigned 64-bit value with bit pattern {@code v}, correctly rounded to a double. */
    static double unsignedToDouble(long v) {
        if (v >= 0) {
            return v;
        }
        // Halve (keeping the lowest bit as a sticky bit so that rounding is unchanged), convert, double.
        return ((v >>> 1) | (v & 1)) * 2.0;
    }

    static String shapeText(int[] shape) {
        StringBuilder sb = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) {
            if (i > 0) {
                sb.append(", ");
            }
            sb.append(shape[i]);
        }
        if (shape.length == 1) {
            sb.append(',');
        }
        return sb.append(')').toString();
    }
}

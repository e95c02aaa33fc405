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
                throw truncated(source, header, done + got);
            }
            buf.flip();
            int count = want / item;
            reader.accept(buf, first, count);
            first += count;
            done += want;
        }
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
                                (long) first + done + i);
                    }
                }
                if (floats != null) {
                    for (int i = 0; i < n; i++) {
                        floats[i] = toFloat(block[i], source, (long) first + done + i);
                    }
                    ((FloatPointer) base.getPointer((long) first + done)).put(floats, 0, n);
                } else {
                    ((DoublePointer) base.getPointer((long) first + done)).put(block, 0, n);
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

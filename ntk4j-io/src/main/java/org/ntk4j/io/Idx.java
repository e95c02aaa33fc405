package org.ntk4j.io;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Reads IDX files, the format of MNIST, Fashion-MNIST, EMNIST and KMNIST ({@code *-idx3-ubyte} images,
 * {@code *-idx1-ubyte} labels), plain or gzip-compressed (recognised by the gzip magic bytes, whatever the
 * file name).
 *
 * <p>Layout (big-endian): two zero bytes, a type code ({@code 0x08} unsigned byte, {@code 0x09} signed byte,
 * {@code 0x0B} int16, {@code 0x0C} int32, {@code 0x0D} float32, {@code 0x0E} float64), the number of
 * dimensions, one int32 per dimension, then the values in row-major order. Values are read as they are
 * stored (no scaling: {@link DataSource} scales unsigned-byte images to [0, 1]), and integers exactly or not at
 * all, as a {@code .npy} file's: an int32 beyond 2^24 in magnitude that float32 cannot hold (2^24 + 1) is refused
 * naming its element (an {@link IllegalArgumentException}), as is a float64 value beyond float32's range, rather
 * than rounded to another integer or turned into ±∞. Only as many examples as
 * asked for are converted and held; a gzip file is nevertheless decompressed to its end, so that the CRC-32 and
 * length in its trailer are checked ({@code fashion-mnist:train:2000} inflates all 47 MB, in a few tenths of a
 * second, and holds 1.6 MB). A plain file is read no further than the examples asked for.
 *
 * <p>Every problem with a file is a {@link DataFormatException} whose message starts with the file: a bad
 * magic number, an unknown type code, zero dimensions, a negative size, more than 2^31-1 values, a truncated
 * file or gzip stream, a corrupt gzip stream (a damaged deflate stream, or data that does not match the
 * CRC-32 in the gzip trailer). A file that is not a regular file (a pipe, {@code /dev/stdin}) is read as a
 * stream, without the up-front size check.
 */
public final class Idx {
    /** The header of an IDX file: its type code and shape. */
    public static final class Header {
        private final int typeCode;
        private final int[] shape;

        Header(int typeCode, int[] shape) {
            this.typeCode = typeCode;
            this.shape = shape;
        }

        /**
         * The type code.
         *
         * @return 0x08 unsigned byte, 0x09 signed byte, 0x0B int16, 0x0C int32, 0x0D float32 or 0x0E float64
         */
        public int typeCode() {
            return typeCode;
        }

        /**
         * The shape.
         *
         * @return a copy of the shape, first axis = examples
         */
        public int[] shape() {
            return shape.clone();
        }

        /**
         * The size of one value.
         *
         * @return bytes per value: 1, 2, 4 or 8
         */
        public int itemSize() {
            return Idx.itemSize(typeCode);
        }

        /**
         * Whether the values are integers (labels must be).
         *
         * @return true for every type but float32 and float64
         */
        public boolean isInteger() {
            return typeCode != 0x0D && typeCode != 0x0E;
        }

        /**
         * A short name of the type.
         *
         * @return u8, i8, i16, i32, f32 or f64
         */
        public String typeName() {
            return Idx.typeName(typeCode);
        }

        @Override
        public String toString() {
            return typeName() + Shapes.str(shape);
        }
    }

    private static final int MAX_DIMS = 32;

    private Idx() {
    }

    /**
     * Reads only the header.
     *
     * @param path the IDX file, plain or gzip
     * @return the header
     * @throws DataFormatException if the file is a directory or its header is malformed
     * @throws IOException if the file does not exist or cannot be read
     */
    public static Header readHeader(Path path) throws IOException {
        try (InputStream in = open(path)) {
            return readHeader(gunzipIfCompressed(in, path.toString()), path.toString());
        }
    }

    /**
     * Reads the first {@code limit} examples (all when the file has fewer, or when {@code limit} is negative)
     * into a new tensor of {@code dtype}, with the values as stored; the caller closes it.
     *
     * @param path the IDX file, plain or gzip
     * @param dtype the tensor type
     * @param limit how many examples to read; negative for all
     * @return the tensor, of the file's shape with the first axis cut to the examples read
     * @throws DataFormatException if the file is a directory, malformed, truncated or a corrupt gzip stream
     * @throws IllegalArgumentException if a value is one {@code dtype} cannot hold (see the class comment)
     * @throws IOException if the file does not exist or cannot be read
     */
    public static Tensor read(Path path, DType dtype, int limit) throws IOException {
        return readWithHeader(path, dtype, limit).values();
    }

    /**
     * The values {@link #read(Path, DType, int)} reads and the header they were read with, from one pass over the
     * file (a pipe can be read only once).
     *
     * @param header the file's header (its first axis uncut)
     * @param values the tensor, which the caller closes
     */
    record Read(Header header, Tensor values) {
    }

    /** {@link #read(Path, DType, int)} with the header: one pass over the file. */
    static Read readWithHeader(Path path, DType dtype, int limit) throws IOException {
        try (InputStream in = open(path)) {
            return read(in, path.toString(), dtype, limit, maxBytes(path));
        }
    }

    /**
     * An upper bound on the bytes a file can yield: its size, or for gzip 1032 times it (deflate's largest
     * expansion). A header that claims more is a truncated or corrupt file, found before the tensor is allocated.
     * A file that is not a regular one (a pipe) has no size to go by, and is not opened twice: no bound.
     */
    private static long maxBytes(Path path) throws IOException {
        if (!Files.isRegularFile(path)) {
            return Long.MAX_VALUE;
        }
        long size = Files.size(path);
        byte[] magic = new byte[2];
        try (InputStream in = Files.newInputStream(path)) {
            if (in.readNBytes(magic, 0, 2) == 2 && (magic[0] & 0xff) == 0x1f && (magic[1] & 0xff) == 0x8b) {
                return size > Long.MAX_VALUE / 1032 ? Long.MAX_VALUE : size * 1032;
            }
        }
        return size;
    }

    /**
     * {@link #read(Path, DType, int)} from a stream (plain or gzip) named {@code src} in messages.
     *
     * @param stream the IDX bytes, plain or gzip; read from, not closed
     * @param src the name of the stream in messages
     * @param dtype the tensor type
     * @param limit how many examples to read; negative for all
     * @return the tensor, which the caller closes
     * @throws DataFormatException if the data is malformed, truncated or a corrupt gzip stream
     * @throws IOException if the stream cannot be read
     */
    public static Tensor read(InputStream stream, String src, DType dtype, int limit) throws IOException {
        return read(stream, src, dtype, limit, Long.MAX_VALUE).values();
    }

    private static Read read(InputStream stream, String src, DType dtype, int limit, long maxBytes)
            throws IOException {
        InputStream in = gunzipIfCompressed(stream, src);
        Header h = readHeader(in, src);
        int[] shape = h.shape.clone();
        if (limit >= 0 && limit < shape[0]) {
            shape[0] = limit;
        }
        int size = Shapes.size(shape);
        long need = 4L + 4L * shape.length + (long) size * h.itemSize();
        if (need > maxBytes) {
            throw new DataFormatException(src + ": truncated IDX file: the header " + h + " needs " + need
                    + " bytes" + (size < Shapes.size(h.shape) ? " for the first " + shape[0] + " examples" : "")
                    + ", more than the file can hold (" + maxBytes + " bytes at most)");
        }
        Tensor t = Tensor.empty(dtype, shape);
        try {
            readValues(in, src, h, 0, size, t, null);
            checkToTheEnd(in, src);
            return new Read(h, t);
        } catch (IOException | RuntimeException e) {
            t.close();
            throw e;
        }
    }

    /**
     * Reads a rank-1 integer file (class labels) into an int array: the first {@code limit} entries, or all
     * when {@code limit} is negative or above the count.
     *
     * @param path the IDX file, plain or gzip
     * @param limit how many labels to read; negative for all
     * @return the labels, as stored
     * @throws DataFormatException if the file is a directory, not rank 1, not integer, malformed or truncated
     * @throws IOException if the file does not exist or cannot be read
     */
    public static int[] readLabels(Path path, int limit) throws IOException {
        return readLabelsWithHeader(path, limit).labels();
    }

    /**
     * The labels {@link #readLabels(Path, int)} reads and the header they were read with (its count uncut), from
     * one pass over the file: a data source checks the file's count against its images' even when it keeps only
     * the first few.
     *
     * @param header the file's header
     * @param labels the labels read
     */
    record Labels(Header header, int[] labels) {
    }

    /** {@link #readLabels(Path, int)} with the header: one pass over the file. */
    static Labels readLabelsWithHeader(Path path, int limit) throws IOException {
        try (InputStream in = open(path)) {
            return readLabels(in, path.toString(), limit, maxBytes(path));
        }
    }

    /**
     * {@link #readLabels(Path, int)} from a stream (plain or gzip) named {@code src} in messages.
     *
     * @param stream the IDX bytes, plain or gzip; read from, not closed
     * @param src the name of the stream in messages
     * @param limit how many labels to read; negative for all
     * @return the labels, as stored
     * @throws DataFormatException if the data is not rank 1, not integer, malformed or truncated
     * @throws IOException if the stream cannot be read
     */

    public static int[] readLabels(InputStream stream, String src, int limit) throws IOException {
        return readLabels(stream, src, limit, Long.MAX_VALUE).labels();
    }

    /** Labels come in chunks of this many, the array growing as they arrive: a header's count is not trusted. */
    private static final int LABEL_CHUNK = 1 << 20;

    private static Labels readLabels(InputStream stream, String src, int limit, long maxBytes) throws IOException {
        InputStream in = gunzipIfCompressed(stream, src);
        Header h = readHeader(in, src);
        if (h.shape.length != 1) {
            throw new DataFormatException(src + ": labels must be one value per example, rank 1, but the IDX "
                    + "file has shape " + Shapes.str(h.shape));
        }
        if (!h.isInteger()) {
            throw new DataFormatException(src + ": labels must be integers, but the IDX file holds "
                    + h.typeName());
        }
        int n = limit >= 0 && limit < h.shape[0] ? limit : h.shape[0];
        long need = 8L + (long) n * h.itemSize();
        if (need > maxBytes) {
            throw new DataFormatException(src + ": truncated IDX file: the header " + h + " needs " + need
                    + " bytes" + (n < h.shape[0] ? " for the first " + n + " labels" : "")
                    + ", more than the file can hold (" + maxBytes + " bytes at most)");
        }
        int[] labels = new int[Math.min(n, LABEL_CHUNK)];
        for (int done = 0; done < n; ) {
            int chunk = Math.min(n - done, LABEL_CHUNK);
            if (done + chunk > labels.length) {
                labels = Arrays.copyOf(labels, (int) Math.min(n, Math.max((long) done + chunk, 2L * labels.length)));
            }
            readValues(in, src, h, done, chunk, null, labels);
            done += chunk;
        }
        checkToTheEnd(in, src);
        return new Labels(h, labels);
    }

    // ----------------------------------------------------------------------------------------------- internals

    /**
     * Opens a file (the caller closes the stream); {@code read*} decompress it if it is gzip. A pipe or device
     * ({@code /dev/stdin}) is opened as a stream like a file.
     */
    static InputStream open(Path path) throws IOException {
        if (Files.isDirectory(path)) {
            throw new DataFormatException(path + ": is a directory, not an IDX file");
        }
        if (!Files.exists(path)) {
            throw new NoSuchFileException(path.toString(), null, "file not found");
        }
        // a pipe through a FileInputStream: the channel stream of Files.newInputStream asks a pipe for its position
        // (in available(), which BufferedInputStream calls), and Java 17 fails there with "Illegal seek"
        return Files.isRegularFile(path) ? Files.newInputStream(path) : new java.io.FileInputStream(path.toFile());
    }

    /** The stream decompressed when it starts with the gzip magic bytes 1f 8b, else as it is (buffered). */
    static InputStream gunzipIfCompressed(InputStream stream, String src) throws IOException {
        InputStream raw = new BufferedInputStream(stream, 1 << 16);
        raw.mark(2);
        int b0 = raw.read();
        int b1 = raw.read();
        raw.reset();
        if (b0 != 0x1f || b1 != 0x8b) {
            return raw;
        }
        try {
            return new Gunzipped(new CheckedGzip(raw));
        } catch (ZipException | EOFException e) {
            throw new DataFormatException(src + ": corrupt or truncated gzip header (" + e.getMessage() + ")", e);
        }
    }

    /** A gzip file's decompressed bytes (buffered): {@link #checkToTheEnd} reads it to its trailer. */
    private static final class Gunzipped extends BufferedInputStream {
        private final CheckedGzip gzip;

        Gunzipped(CheckedGzip gzip) {
            super(gzip, 1 << 16);
            this.gzip = gzip;
        }
    }

    /** java.util.zip's gzip reader, which checks each member's trailer; this one says what it had computed. */
    private static final class CheckedGzip extends GZIPInputStream {
        CheckedGzip(InputStream in) throws IOException {
            super(in, 1 << 16);
        }

        /**
         * At a failed trailer check: what the trailer records (when its 8 bytes are still in the input buffer, as
         * they are unless they straddle a refill) and what the member's data has.
         */
        String mismatch() {
            String data = String.format("the data has CRC-32 %08x and %d bytes", crc.getValue(),
                    inf.getBytesWritten());
            int n = inf.getRemaining();
            if (n < 8 || len - n < 0) {
                return "its trailer's CRC-32 or length does not match: " + data;
            }
            int at = len - n;
            long recordedCrc = littleEndianInt(buf, at) & 0xffffffffL;
            long recordedSize = littleEndianInt(buf, at + 4) & 0xffffffffL;
            return String.format("its trailer records CRC-32 %08x and %d bytes (mod 2^32), ", recordedCrc,
                    recordedSize) + data;
        }

        private static int littleEndianInt(byte[] b, int o) {
            return (b[o] & 0xff) | (b[o + 1] & 0xff) << 8 | (b[o + 2] & 0xff) << 16 | (b[o + 3] & 0xff) << 24;
        }
    }

    /**
     * For a gzip file, reads (and discards) the rest of its stream, so that {@link GZIPInputStream} reaches the
     * trailer and checks the CRC-32 and length there: the data already read is known good only then. A plain file
     * has no checksum and is left unread.
     */
    private static void checkToTheEnd(InputStream in, String src) throws IOException {
        if (!(in instanceof Gunzipped)) {
            return;
        }
        byte[] skip = new byte[1 << 16];
        try {
            while (in.read(skip) >= 0) {
                // decompress and check
            }
        } catch (EOFException e) {
            throw new DataFormatException(src + ": truncated gzip stream: it ends before its trailer (the CRC-32 "
                    + "and length of the data)", e);
        } catch (ZipException e) {
            throw corruptGzip(in, src, e);
        }
    }

    /**
     * The error of a gzip stream that {@link GZIPInputStream} found corrupt: a damaged deflate stream, or (its
     * message "Corrupt GZIP trailer") data whose CRC-32 or length is not the trailer's.
     */
    private static DataFormatException corruptGzip(InputStream in, String src, ZipException e) {
        if ("Corrupt GZIP trailer".equals(e.getMessage()) && in instanceof Gunzipped) {
            return new DataFormatException(src + ": corrupt gzip data: " + ((Gunzipped) in).gzip.mismatch()
                    + "; the file is damaged", e);
        }
        return new DataFormatException(src + ": corrupt gzip data (" + e.getMessage() + ")", e);
    }

    static Header readHeader(InputStream in, String src) throws IOException {
        byte[] magic = readFully(in, src, 4, "the 4-byte magic number");
        if (magic[0] != 0 || magic[1] != 0) {
            throw new DataFormatException(src + ": not an IDX file: the magic number starts with "
                    + String.format("%02x %02x", magic[0] & 0xff, magic[1] & 0xff) + ", expected 00 00");
        }
        int type = magic[2] & 0xff;
        if (itemSize(type) == 0) {
            throw new DataFormatException(src + ": unknown IDX type code 0x" + String.format("%02x", type)
                    + "; expected 08 (u8), 09 (i8), 0b (i16), 0c (i32), 0d (f32) or 0e (f64)");
        }
        int rank = magic[3] & 0xff;
        if (rank < 1 || rank > MAX_DIMS) {
            throw new DataFormatException(src + ": IDX header declares " + rank + " dimensions; expected 1 to "
                    + MAX_DIMS);
        }
        byte[] dims = readFully(in, src, 4 * rank, "the " + rank + " dimension sizes");
        int[] shape = new int[rank];
        long count = 1;
        for (int i = 0; i < rank; i++) {
            int o = 4 * i;
            shape[i] = (dims[o] & 0xff) << 24 | (dims[o + 1] & 0xff) << 16 | (dims[o + 2] & 0xff) << 8
                    | (dims[o + 3] & 0xff);
            if (shape[i] < 0) {
                throw new DataFormatException(src + ": IDX dimension " + i + " is negative ("
                        + Integer.toUnsignedString(shape[i]) + " as unsigned, larger than any file ntk4j reads)");
            }
            count *= shape[i];
            if (count > Integer.MAX_VALUE) {
                throw new DataFormatException(src + ": IDX shape " + Arrays.toString(Arrays.copyOf(shape, i + 1))
                        + "... holds more than 2^31-1 values (the tensor limit)");
            }
        }
        return new Header(type, shape);
    }

    /**
     * Reads the next {@code count} values into the tensor or (for labels) the int array, from index
     * {@code first} on ({@code first} values having been read before, which messages count).
     */
    private static void readValues(InputStream in, String src, Header h, int first, int count, Tensor into,
                                   int[] labels) throws IOException {
        int item = h.itemSize();
        byte[] buf = new byte[Math.max(item, (1 << 16) / item * item)];
        // One chunk of converted values, moved into the tensor with one bulk put.
        float[] floats = into != null && into.dtype() == DType.F32 ? new float[buf.length / item] : null;
        double[] doubles = into != null && into.dtype() == DType.F64 ? new double[buf.length / item] : null;
        int done = 0;
        while (done < count) {
            int want = (int) Math.min((long) (count - done) * item, buf.length);
            int got = 0;
            while (got < want) {
                int r;
                try {
                    r = in.read(buf, got, want - got);
                } catch (EOFException e) {
                    r = -1;
                } catch (ZipException e) {
                    throw corruptGzip(in, src, e);
                }
                if (r < 0) {
                    throw new DataFormatException(src + ": truncated IDX file: the header " + h
                            + " needs " + (long) Shapes.size(h.shape) * item + " data bytes, the file ends after "
                            + ((long) (first + done) * item + got) + (first + count < Shapes.size(h.shape)
                            ? " (reading the first " + (first + count) + " values)" : ""));
                }
                got += r;
            }
            int values = want / item;
            if (into == null) {
                for (int k = 0; k < values; k++) {
                    labels[first + done + k] = (int) decode(buf, k * item, h.typeCode);
                }
            } else if (into.dtype() == DType.F32) {
                for (int k = 0; k < values; k++) {
                    double v = decode(buf, k * item, h.typeCode);
                    requireExact(h.typeCode, v, into.dtype(), src, (long) first + done + k);
                    // a float64 file's value beyond float32's range is refused, not turned into ±∞
                    floats[k] = NpyIO.toFloat(v, src, (long) first + done + k);
                }
                into.floats().put(first + done, floats, 0, values);
            } else {
                for (int k = 0; k < values; k++) {
                    doubles[k] = decode(buf, k * item, h.typeCode);
                }
                into.doubles().put(first + done, doubles, 0, values);
            }
            done += values;
        }
    }

    /**
     * Refuses an int32 value that {@code target} cannot hold exactly, as the {@code .npy} reader does
     * ({@link ExactIntegers}); the narrower integer types always fit float32.
     */
    private static void requireExact(int type, double value, DType target, String src, long index) {
        if (type == 0x0C) {
            long v = (long) value;
            ExactIntegers.require(ExactIntegers.significantBits(Math.abs(v)), Long.toString(v), target,
                    src + ": element " + index);
        }
    }

    private static double decode(byte[] b, int o, int type) {
        switch (type) {
            case 0x08:
                return b[o] & 0xff;
            case 0x09:
                return b[o];
            case 0x0B:
                return (short) ((b[o] & 0xff) << 8 | (b[o + 1] & 0xff));
            case 0x0C:
                return int32(b, o);
            case 0x0D:
                return Float.intBitsToFloat(int32(b, o));
            case 0x0E:
                return Double.longBitsToDouble((long) int32(b, o) << 32 | (int32(b, o + 4) & 0xffffffffL));
            default:
                throw new AssertionError(type);
        }
    }

    private static int int32(byte[] b, int o) {
        return (b[o] & 0xff) << 24 | (b[o + 1] & 0xff) << 16 | (b[o + 2] & 0xff) << 8 | (b[o + 3] & 0xff);
    }

    private static byte[] readFully(InputStream in, String src, int n, String what) throws IOException {
        byte[] b = new byte[n];
        int got = 0;
        while (got < n) {
            int r;
            try {
                r = in.read(b, got, n - got);
            } catch (EOFException e) {
                r = -1;
            } catch (ZipException e) {
                throw corruptGzip(in, src, e);
            }
            if (r < 0) {
                throw new DataFormatException(src + ": truncated IDX file: it ends after " + got + " of the " + n
                        + " bytes of " + what);
            }
            got += r;
        }
        return b;
    }

    static int itemSize(int type) {
        switch (type) {
            case 0x08:
            case 0x09:
                return 1;
            case 0x0B:
                return 2;
            case 0x0C:
            case 0x0D:
                return 4;
            case 0x0E:
                return 8;
            default:
                return 0;
        }
    }

    static String typeName(int type) {
        switch (type) {
            case 0x08:
                return "u8";
            case 0x09:
                return "i8";
            case 0x0B:
                return "i16";
            case 0x0C:
                return "i32";
            case 0x0D:
                return "f32";
            case 0x0E:
                return "f64";
            default:
                return "0x" + Integer.toHexString(type);
        }
    }
}

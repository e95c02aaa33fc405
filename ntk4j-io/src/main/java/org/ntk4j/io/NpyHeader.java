package org.ntk4j.io;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The header of a {@code .npy} array that ntk4j can read: its element type, its shape, whether its data is in
 * Fortran (column-major) order, the format version it was written in and where its data starts. Obtained from
 * {@link Npy#readHeader} or {@link Npz#readHeaders} without reading the data, e.g. to plan memory.
 *
 * <p>The format (NumPy's {@code numpy.lib.format}): the magic string {@code \x93NUMPY}, a major and a minor
 * version byte, the header length as a little-endian {@code uint16} (version 1.0) or {@code uint32} (2.0, 3.0),
 * then the header: a Python dict literal with the keys {@code descr}, {@code fortran_order} and {@code shape},
 * padded with spaces and a final newline so that the data starts at a multiple of 64 bytes. Version 1.0 and 2.0
 * headers are Latin-1, 3.0 headers UTF-8.
 */
public final class NpyHeader {
    /** The magic string every {@code .npy} file starts with. */
    static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    /** NumPy aligns the start of the data to this many bytes. */
    static final int ARRAY_ALIGN = 64;
    /** NumPy leaves room in the header for the first axis to grow to this many digits. */
    static final int GROWTH_AXIS_MAX_DIGITS = 21;
    /** Longest header accepted on read; a larger declared length means a corrupt file. */
    static final long MAX_HEADER_BYTES = 1L << 24;

    private static final Set<String> KEYS = Set.of("descr", "fortran_order", "shape");

    private final int majorVersion;
    private final int minorVersion;
    private final NpyDType dtype;
    private final int[] shape;
    private final boolean fortranOrder;
    private final long size;
    private final long dataOffset;

    /** A header whose data bytes, {@code product(shape) * itemSize}, fit a {@code long} ({@link #parse} checks). */
    NpyHeader(int majorVersion, int minorVersion, NpyDType dtype, int[] shape, boolean fortranOrder,
              long dataOffset) {
        this.majorVersion = majorVersion;
        this.minorVersion = minorVersion;
        this.dtype = dtype;
        this.shape = shape.clone();
        this.fortranOrder = fortranOrder;
        this.size = product(shape, 0, shape.length);
        this.dataOffset = dataOffset;
    }

    /** The product of {@code shape[from..to)}, exact (at most {@link Long#MAX_VALUE}, which {@link #parse} checks). */
    private static long product(int[] shape, int from, int to) {
        for (int i = from; i < to; i++) {
            if (shape[i] == 0) {
                return 0;
            }
        }
        long n = 1;
        for (int i = from; i < to; i++) {
            n = Math.multiplyExact(n, shape[i]);
        }
        return n;
    }

    /**
     * The element type.
     *
     * @return the element type
     */
    public NpyDType dtype() {
        return dtype;
    }

    /**
     * The NumPy type string.
     *
     * @return the type string, e.g. {@code <f4}
     */
    public String descr() {
        return dtype.descr();
    }

    /**
     * The shape.
     *
     * @return a copy of the shape (the array's own axes, whatever the order of its data; empty for a scalar)
     */
    public int[] shape() {
        return shape.clone();
    }

    /**
     * Whether the header says {@code 'fortran_order': True}: the data is stored column-major (the first axis
     * varies fastest), as NumPy saves a transposed or {@code np.asfortranarray} array. The readers give the values
     * in C order all the same (a transpose on read); an array with at most one axis longer than 1 has the same
     * bytes in both orders.
     *
     * @return the header's {@code fortran_order}
     */
    public boolean fortranOrder() {
        return fortranOrder;
    }

    /**
     * Whether the data's bytes are not in C order: Fortran order with at least two axes longer than 1, which the
     * readers transpose as they read.
     */
    boolean transposedOnRead() {
        if (!fortranOrder) {
            return false;
        }
        int longer = 0;
        for (int d : shape) {
            if (d > 1) {
                longer++;
            }
        }
        return longer > 1;
    }

    /**
     * The number of axes.
     *
     * @return the rank, 0 for a scalar
     */
    public int rank() {
        return shape.length;
    }

    /**
     * The number of elements, which may be more than one tensor holds: an array read whole needs at most 2^31-1,
     * but its first rows can be read from a larger file ({@code PATH.npy:N}).
     *
     * @return the product of the shape (1 for a scalar)
     */
    public long size() {
        return size;
    }

    /**
     * The size of the array data.
     *
     * @return bytes of array data after the header
     */
    public long dataBytes() {
        return size * dtype.itemSize();
    }

    /**
     * The shape of the first {@code rows} entries along axis 0 (all of them when {@code rows} is negative or at
     * least the first axis; a scalar's shape is empty), refusing, before anything is allocated or read, when
     * those hold more values than what they are read into holds: more than 2^31-1 elements, or, for a tensor
     * ({@code tensorType} not null), more than its 2^31-1 bytes of storage. In C order the first rows are the data's
     * first bytes, in Fortran order one run of {@code rows} values per index of the other axes: either way a file
     * too large to read whole gives its first rows ({@code PATH.npy:N}), and the refusal says how many fit.
     *
     * @param rows how many rows are wanted, negative for all
     * @param tensorType the tensor type read into, or null for an {@link NpyArray} (the file's type, on the heap)
     * @param source the file (and entry) named in the message
     */
    int[] firstRows(int rows, org.ntk4j.tensor.DType tensorType, String source) throws NpyFormatException {
        int[] cut = shape.clone();
        boolean part = rows >= 0 && cut.length > 0 && rows < cut[0];
        if (part) {
            cut[0] = rows;
        }
        long elements = product(cut, 0, cut.length);
        int elementBytes = tensorType == null ? 1 : tensorType.bytes();
        long maxElements = Integer.MAX_VALUE / elementBytes;
        if (elements <= maxElements) {
            return cut;
        }
        String what = part ? "the first " + rows + " rows of the array of shape " + NpyIO.shapeText(shape)
                : "array of shape " + NpyIO.shapeText(shape);
        String into = tensorType == null ? "an ntk4j array" : "an ntk4j tensor";
        String problem = elements > Integer.MAX_VALUE
                ? (part ? " have" : " has") + " more than 2^31-1 elements (" + elements + "), more than " + into
                + " holds"
                : (part ? " are " : " is ") + elements + " values, " + elements * elementBytes + " bytes as "
                + (tensorType == org.ntk4j.tensor.DType.F32 ? "float32" : "float64") + ", more than " + into
                + " holds (2^31-1 bytes)";
        long fit = maxElements / product(shape, 1, shape.length); // elements > 0: no axis is empty
        String way = fit < 1 ? "; one row alone is too large: split the array into several files"
                : part ? "; ask for at most " + fit + " rows with :N"
                : "; read its first rows with a data source's :N (PATH.npy:N, N at most " + fit
                + "), or split it into several files";
        throw new NpyFormatException(source + ": " + what + problem + way);
    }

    /**
     * Where the data starts.
     *
     * @return offset of the first data byte from the start of the {@code .npy} file or entry, in bytes
     */
    public long dataOffset() {
        return dataOffset;
    }

    /**
     * Format version, major part.
     *
     * @return 1, 2 or 3
     */
    public int majorVersion() {
        return majorVersion;
    }

    /**
     * Format version, minor part.
     *
     * @return the minor version (always 0 for the versions NumPy defines)
     */

    public int minorVersion() {
        return minorVersion;
    }

    @Override
    public String toString() {
        return "npy " + majorVersion + "." + minorVersion + " '" + dtype.descr() + "' " + Arrays.toString(shape)
                + (fortranOrder ? " Fortran order" : "");
    }

    // ---------------------------------------------------------------------------------------------- writing

    /**
     * The magic string, version, length and header for a C-order array, byte for byte what NumPy's
     * {@code np.save} writes: the keys sorted, spare spaces for the first axis to grow to 21 digits, padding to a
     * multiple of 64 bytes (a full 64 when already aligned, as NumPy does), a final newline; version 1.0, or
     * 2.0 when the header does not fit in a {@code uint16} length.
     */
    static byte[] encode(NpyDType dtype, int[] shape) {
        StringBuilder sb = new StringBuilder(128);
        sb.append("{'descr': '").append(dtype.descr()).append("', 'fortran_order': False, 'shape': ");
        sb.append(NpyIO.shapeText(shape));
        sb.append(", }");
        if (shape.length > 0) {
            sb.append(" ".repeat(GROWTH_AXIS_MAX_DIGITS - Integer.toString(shape[0]).length()));
        }
        byte[] dict = sb.toString().getBytes(StandardCharsets.ISO_8859_1);
        long hlen = dict.length + 1L; // + '\n'
        int prefix = MAGIC.length + 2 + 2;
        long pad = ARRAY_ALIGN - ((prefix + hlen) % ARRAY_ALIGN);
        int major = 1;
        if (hlen + pad > 0xFFFF) {
            major = 2;
            prefix = MAGIC.length + 2 + 4;
            pad = ARRAY_ALIGN - ((prefix + hlen) % ARRAY_ALIGN);
        }
        long total = prefix + hlen + pad;
        if (total > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("npy: a header for rank " + shape.length + " would be " + total
                    + " bytes, too large to write");
        }
        ByteBuffer out = ByteBuffer.allocate((int) total).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        out.put(MAGIC).put((byte) major).put((byte) 0);
        if (major == 1) {
            out.putShort((short) (hlen + pad));
        } else {
            out.putInt((int) (hlen + pad));
        }
        out.put(dict);
        for (long i = 0; i < pad; i++) {
            out.put((byte) ' ');
        }
        out.put((byte) '\n');
        return out.array();
    }

    // ---------------------------------------------------------------------------------------------- reading

    /**
     * Reads the magic string, version and header from the start of {@code channel}, leaving it at the first
     * data byte.
     *
     * @param source the file (and entry) named in error messages
     * @param buf a scratch buffer of at least 16 bytes
     */
    static NpyHeader read(ReadableByteChannel channel, String source, ByteBuffer buf) throws IOException {
        buf.clear().limit(MAGIC.length + 2);
        int got = NpyIO.readFully(channel, buf);
        buf.flip();
        if (got == 0) {
            throw new NpyFormatException(source + ": not a .npy file: the file is empty");
        }
        byte[] start = new byte[got];
        buf.get(start);
        for (int i = 0; i < Math.min(got, MAGIC.length); i++) {
            if (start[i] != MAGIC[i]) {
                throw badMagic(source, start);
            }
        }
        if (got < MAGIC.length + 2) {
            throw new NpyFormatException(source + ": truncated .npy file: it ends after " + got
                    + " bytes, inside the magic string and version");
        }
        int major = start[6] & 0xFF;
        int minor = start[7] & 0xFF;
        if ((major != 1 && major != 2 && major != 3) || minor != 0) {
            throw new NpyFormatException(source + ": unsupported .npy format version " + major + "." + minor
                    + " (supported: 1.0, 2.0, 3.0)");
        }
        int lengthBytes = major == 1 ? 2 : 4;
        buf.clear().limit(lengthBytes);
        if (NpyIO.readFully(channel, buf) < lengthBytes) {
            throw new NpyFormatException(source + ": truncated .npy file: it ends inside the header length");
        }
        buf.flip();
        long headerLength = major == 1
                ? (buf.get(0) & 0xFF) | (buf.get(1) & 0xFF) << 8
                : ((buf.get(0) & 0xFFL) | (buf.get(1) & 0xFFL) << 8 | (buf.get(2) & 0xFFL) << 16
                        | (buf.get(3) & 0xFFL) << 24);
        if (headerLength > MAX_HEADER_BYTES) {
            throw new NpyFormatException(source + ": malformed .npy header: declared header length "
                    + headerLength + " bytes is implausibly large (more than " + MAX_HEADER_BYTES + ")");
        }
        byte[] header = new byte[(int) headerLength];
        int filled = 0;
        while (filled < header.length) {
            int want = Math.min(buf.capacity(), header.length - filled);
            buf.clear().limit(want);
            int n = NpyIO.readFully(channel, buf);
            buf.flip();
            buf.get(header, filled, n);
            filled += n;
            if (n < want) {
                throw new NpyFormatException(source + ": truncated .npy file: the header should be "
                        + headerLength + " bytes, the file ends after " + filled + " of them");
            }
        }
        String text;
        if (major == 3) {
            try {
                text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(header)).toString();
            } catch (CharacterCodingException e) {
                throw new NpyFormatException(source + ": malformed .npy header: a version 3.0 header must be"
                        + " UTF-8 text", e);
            }
        } else {
            text = new String(header, StandardCharsets.ISO_8859_1);
        }
        return parse(text, major, minor, MAGIC.length + 2 + lengthBytes + headerLength, source);
    }

    private static NpyFormatException badMagic(String source, byte[] start) {
        StringBuilder found = new StringBuilder();
        for (byte b : start) {
            int c = b & 0xFF;
            if (c >= 32 && c < 127 && c != '\\') {
                found.append((char) c);
            } else {
                found.append(String.format("\\x%02x", c));
            }
        }
        String hint = start.length >= 2 && start[0] == 'P' && start[1] == 'K'
                ? " (it looks like a zip archive: a .npz is read with Npz.read)"
                : "";
        return new NpyFormatException(source + ": not a .npy file: bad magic string, expected \\x93NUMPY,"
                + " found '" + found + "'" + hint);
    }

    /** Parses and checks the header dict. */
    static NpyHeader parse(String text, int major, int minor, long dataOffset, String source)
            throws NpyFormatException {
        Object value;
        try {
            value = PyLiteral.parse(text);
        } catch (PyLiteral.SyntaxError e) {
            throw malformed(source, e.getMessage(), text);
        }
        if (!(value instanceof Map)) {
            throw malformed(source, "the header is not a dict", text);
        }
        Map<?, ?> dict = (Map<?, ?>) value;
        if (!dict.keySet().equals(KEYS)) {
            throw malformed(source, "the header dict must have exactly the keys 'descr', 'fortran_order' and"
                    + " 'shape', it has " + keyList(dict), text);
        }
        Object descr = dict.get("descr");
        if (descr instanceof PyLiteral.PyList) {
            throw new NpyFormatException(source + ": unsupported dtype: structured arrays (descr " + descr(descr)
                    + ") are not supported; save each field as its own array");
        }
        if (!(descr instanceof String)) {
            throw malformed(source, "'descr' is not a string", text);
        }
        Object fortran = dict.get("fortran_order");
        if (!(fortran instanceof Boolean)) {
            throw malformed(source, "'fortran_order' is not True or False", text);
        }
        Object shapeValue = dict.get("shape");
        if (!(shapeValue instanceof PyLiteral.Tuple)) {
            throw malformed(source, "'shape' is not a tuple", text);
        }
        List<Object> dims = ((PyLiteral.Tuple) shapeValue).items();
        int[] shape = new int[dims.size()];
        for (int i = 0; i < shape.length; i++) {
            Object d = dims.get(i);
            if (!(d instanceof BigInteger)) {
                throw malformed(source, "'shape' has a non-integer entry", text);
            }
            BigInteger b = (BigInteger) d;
            if (b.signum() < 0) {
                throw malformed(source, "'shape' has a negative dimension " + b, text);
            }
            if (b.bitLength() > 31) {
                throw new NpyFormatException(source + ": array of shape " + PyLiteral.repr(shapeValue)
                        + " has dimension " + b + ", more than ntk4j's limit of 2^31-1");
            }
            shape[i] = b.intValue();
        }
        NpyDType dtype = NpyDType.fromDescr((String) descr, source);
        // Fortran order is read (transposed on read, Npy.readRows and NpyIO.readFortran), :N or not.
        // An array of more than 2^31-1 elements is a header like any other: its first rows can be read
        // (NpyHeader.firstRows refuses a read of more than one array holds). Only a size no file can have is refused.
        if (bytesOverflow(shape, dtype.itemSize())) {
            throw new NpyFormatException(source + ": array of shape " + PyLiteral.repr(shapeValue) + " would be more"
                    + " than 2^63-1 bytes, larger than any file: the header is damaged");
        }
        return new NpyHeader(major, minor, dtype, shape, (Boolean) fortran, dataOffset);
    }

    /** Whether {@code product(shape) * itemSize} overflows a long (an empty axis makes it 0, whatever the others). */
    private static boolean bytesOverflow(int[] shape, int itemSize) {
        try {
            Math.multiplyExact(product(shape, 0, shape.length), itemSize);
            return false;
        } catch (ArithmeticException e) {
            return true;
        }
    }

    private static String keyList(Map<?, ?> dict) {
        StringBuilder sb = new StringBuilder("[");
        for (Object k : dict.keySet()) {
            if (sb.length() > 1) {
                sb.append(", ");
            }
            sb.append(k instanceof String ? "'" + k + "'" : String.valueOf(k));
        }
        return sb.append(']').toString();
    }

    private static String descr(Object value) {
        String s = PyLiteral.repr(value);
        return s.length() > 120 ? s.substring(0, 117) + "..." : s;
    }

    private static NpyFormatException malformed(String source, String problem, String text) {
        String shown = text.strip();
        if (shown.length() > 200) {
            shown = shown.substring(0, 197) + "...";
        }
        StringBuilder escaped = new StringBuilder();
        for (int i = 0; i < shown.length(); i++) {
            char c = shown.charAt(i);
            if (c < 32 || c == 127) {
                escaped.append(String.format("\\x%02x", (int) c));
            } else {
                escaped.append(c);
            }
        }
        return new NpyFormatException(source + ": malformed .npy header: " + problem + "; header: " + escaped);
    }
}

package org.ntk4j.io;

import org.ntk4j.tensor.DType;

/**
 * The element types ntk4j reads from and writes to {@code .npy} files: little-endian (or single-byte) booleans,
 * integers and IEEE floats. Each constant knows its NumPy type string ({@link #descr()}), e.g. {@code '<f4'}.
 */
public enum NpyDType {
    /** Booleans, one byte each ({@code |b1}). */
    BOOL("|b1", 1, false),
    /** Signed 8-bit integers ({@code |i1}). */
    INT8("|i1", 1, false),
    /** Unsigned 8-bit integers ({@code |u1}), as IDX image files hold. */
    UINT8("|u1", 1, false),
    /** Little-endian signed 16-bit integers ({@code <i2}). */
    INT16("<i2", 2, false),
    /** Little-endian unsigned 16-bit integers ({@code <u2}). */
    UINT16("<u2", 2, false),
    /** Little-endian signed 32-bit integers ({@code <i4}). */
    INT32("<i4", 4, false),
    /** Little-endian unsigned 32-bit integers ({@code <u4}). */
    UINT32("<u4", 4, false),
    /** Little-endian signed 64-bit integers ({@code <i8}). */
    INT64("<i8", 8, false),
    /** Little-endian unsigned 64-bit integers ({@code <u8}). */
    UINT64("<u8", 8, false),
    /**
     * Little-endian IEEE half precision ({@code <f2}, NumPy's float16): read exactly (float32 and float64 hold
     * every float16 value, subnormals included); {@link NpyArray#ofDoubles} rounds to it as NumPy's
     * {@code astype(np.float16)} does, to nearest, ties to even.
     */
    FLOAT16("<f2", 2, true),
    /** Little-endian IEEE single precision ({@code <f4}), the file type of a {@link DType#F32} tensor. */
    FLOAT32("<f4", 4, true),
    /** Little-endian IEEE double precision ({@code <f8}), the file type of a {@link DType#F64} tensor. */
    FLOAT64("<f8", 8, true);

    private static final String SUPPORTED =
            "'<f2', '<f4', '<f8', '|u1', '|i1', '<i2', '<u2', '<i4', '<u4', '<i8', '<u8', '|b1'";

    private final String descr;
    private final int itemSize;
    private final boolean floating;

    NpyDType(String descr, int itemSize, boolean floating) {
        this.descr = descr;
        this.itemSize = itemSize;
        this.floating = floating;
    }

    /**
     * The NumPy type string as written in a header.
     *
     * @return the type string, e.g. {@code <f8} or {@code |u1}
     */
    public String descr() {
        return descr;
    }

    /**
     * The size of one element.
     *
     * @return bytes per element: 1, 2, 4 or 8
     */
    public int itemSize() {
        return itemSize;
    }

    /**
     * Whether this is a floating-point type.
     *
     * @return true for {@link #FLOAT16}, {@link #FLOAT32} and {@link #FLOAT64}
     */
    public boolean isFloating() {
        return floating;
    }

    /**
     * The file type that stores a tensor of {@code dtype} without conversion.
     *
     * @param dtype the tensor type
     * @return {@link #FLOAT32} for {@link DType#F32}, otherwise {@link #FLOAT64}
     */
    public static NpyDType of(DType dtype) {
        return dtype == DType.F32 ? FLOAT32 : FLOAT64;
    }

    /**
     * The float16 value of the bits {@code h} (sign, 5 exponent bits, 10 fraction bits), exactly: subnormals
     * (exponent 0) are {@code fraction · 2^-24}, exponent 31 infinity or NaN, a NaN with its sign and its 10 payload
     * bits at the top of the double's (NumPy's {@code astype(np.float64)}, bit for bit: until the review of
     * 2026-12-07 every NaN became Java's one NaN).
     */
    static double halfToDouble(short h) {
        int exponent = (h >>> 10) & 0x1F;
        int fraction = h & 0x3FF;
        double magnitude;
        if (exponent == 0) {
            magnitude = fraction * 0x1p-24;
        } else if (exponent == 31) {
            if (fraction != 0) {
                return Double.longBitsToDouble((h < 0 ? Long.MIN_VALUE : 0) | 0x7FF0_0000_0000_0000L
                        | (long) fraction << 42);
            }
            magnitude = Double.POSITIVE_INFINITY;
        } else {
            magnitude = (1024 + fraction) * Math.scalb(1.0, exponent - 25);
        }
        return h < 0 ? -magnitude : magnitude;
    }

    /**
     * {@code v} rounded to float16, to nearest with ties to even (IEEE 754, as NumPy's {@code astype(np.float16)}):
     * values of magnitude 65520 or more become ±∞, a NaN a NaN of its sign and the top 10 bits of its payload (one
     * payload bit set where those are all 0), as NumPy keeps them. The scalings are by powers of two, exact in a
     * double, so the one rounding is {@link Math#rint}'s.
     */
    static short doubleToHalf(double v) {
        long raw = Double.doubleToRawLongBits(v);
        int sign = raw < 0 ? 0x8000 : 0;
        double a = Math.abs(v);
        int bits;
        if (Double.isNaN(v)) {
            int payload = (int) ((raw & 0x000F_FFFF_FFFF_FFFFL) >>> 42);
            bits = 0x7C00 | Math.max(payload, 1);
        } else if (a >= 65520) {
            bits = 0x7C00;
        } else if (a < 0x1p-14) {
            bits = (int) Math.rint(a * 0x1p24); // subnormal; 1024 is the smallest normal's encoding
        } else {
            int e = Math.getExponent(a);
            int m = (int) Math.rint(Math.scalb(a, 10 - e)); // in [1024, 2048]
            if (m == 2048) {
                m = 1024;
                e++;
            }
            bits = ((e + 15) << 10) | (m - 1024);
        }
        return (short) (sign | bits);
    }

    /** The tensor dtype of the same type, for {@link #FLOAT32} and {@link #FLOAT64}; otherwise null. */
    DType tensorDType() {
        switch (this) {
            case FLOAT32:
                return DType.F32;
            case FLOAT64:
                return DType.F64;
            default:
                return null;
        }
    }

    /**
     * Parses a header's {@code descr} string.
     *
     * @param source the file (and entry) named in error messages
     * @throws NpyFormatException for big-endian data, object (pickled) arrays and every type not listed above,
     *     with a message that says which and what to do about it
     */
    static NpyDType fromDescr(String descr, String source) throws NpyFormatException {
        String order = "";
        String rest = descr;
        if (!descr.isEmpty() && "<>|=".indexOf(descr.charAt(0)) >= 0) {
            order = descr.substring(0, 1);
            rest = descr.substring(1);
        }
        if (rest.startsWith("O")) {
            throw new NpyFormatException(source + ": object arrays (dtype '" + descr + "', pickled Python objects)"
                    + " are not supported: they have no fixed binary layout, and unpickling can run arbitrary code;"
                    + " save a numeric array instead");
        }
        NpyDType found = null;
        for (NpyDType t : values()) {
            if (t.descr.substring(1).equals(rest)) {
                found = t;
                break;
            }
        }
        if (found == null) {
            throw new NpyFormatException(source + ": unsupported dtype '" + descr + "'" + kindName(rest)
                    + "; supported: " + SUPPORTED);
        }
        if (found.itemSize == 1 || order.equals("<")) {
            return found;
        }
        if (order.equals(">")) {
            throw new NpyFormatException(source + ": big-endian data ('" + descr + "') is not supported;"
                    + " convert it in NumPy with a.astype('<" + rest + "') and save again");
        }
        throw new NpyFormatException(source + ": unsupported dtype '" + descr + "': byte order "
                + (order.isEmpty() ? "(none)" : "'" + order + "'") + " is ambiguous in a file; expected '<" + rest
                + "'");
    }

    private static String kindName(String rest) {
        if (rest.isEmpty()) {
            return "";
        }
        switch (rest.charAt(0)) {
            case 'f':
                return " (extended-precision float)";
            case 'c':
                return " (complex)";
            case 'U':
                return " (unicode string)";
            case 'S':
            case 'a':
                return " (byte string)";
            case 'V':
                return " (raw bytes / void)";
            case 'M':
                return " (datetime64)";
            case 'm':
                return " (timedelta64)";
            case 'i':
            case 'u':
                return " (integer of an unsupported width)";
            case 'b':
                return " (boolean of an unsupported width)";
            default:
                return "";
        }
    }
}
